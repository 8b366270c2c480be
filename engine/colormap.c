/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Colour maps for attention heatmaps, as 256-entry RGB tables.
 *
 * inferno and viridis are the degree-6 polynomial fits of matplotlib's maps published by Matt
 * Zucker (CC0, within a few 8-bit steps of the originals); turbo interpolates every eighth
 * entry of Google's table (Anton Mikhailov, Apache-2.0); jet is MATLAB's piecewise-linear ramp;
 * gray runs from black to white. */
#include "heed-engine.h"

#include <math.h>

static const double inferno_c[7][3] = {
  { 0.0002189403691192265, 0.001651004631001012, -0.01948089843709184 },
  { 0.1065134194856116, 0.5639564367884091, 3.932712388889277 },
  { 11.60249308247187, -3.972853965665698, -15.9423941062914 },
  { -41.70399613139459, 17.43639888205313, 44.35414519872813 },
  { 77.162935699427, -33.40235894210092, -81.80730925738993 },
  { -71.31942824499214, 32.62606426397723, 73.20951985803202 },
  { 25.13112622477341, -12.24266895238567, -23.07032500287172 },
};

static const double viridis_c[7][3] = {
  { 0.2777273272234177, 0.005407344544966578, 0.3340998053353061 },
  { 0.1050930431085774, 1.404613529898575, 1.384590162594685 },
  { -0.3308618287255563, 0.214847559468213, 0.09509516302823659 },
  { -4.634230498983486, -5.799100973351585, -19.33244095627987 },
  { 6.228269936347081, 14.17993336680509, 56.69055260068105 },
  { 4.776384997670288, -13.74514537774601, -65.35303263337234 },
  { -5.435455855934631, 4.645852612178535, 26.3124352495832 },
};

/* Google's turbo table (Apache-2.0) at entries 0, 8, ..., 248 and 255; linear in between is
 * within 2 steps of the full table. */
static const double turbo_keys[33][3] = {
  { 0.18995, 0.07176, 0.23217 }, { 0.22500, 0.16354, 0.45096 }, { 0.25107, 0.25237, 0.63374 },
  { 0.26816, 0.33825, 0.78050 }, { 0.27628, 0.42118, 0.89123 }, { 0.27543, 0.50115, 0.96594 },
  { 0.25862, 0.57958, 0.99876 }, { 0.21382, 0.65886, 0.97959 }, { 0.15844, 0.73551, 0.92305 },
  { 0.11167, 0.80569, 0.84525 }, { 0.09267, 0.86554, 0.76230 }, { 0.12014, 0.91193, 0.68660 },
  { 0.19659, 0.94901, 0.59466 }, { 0.30513, 0.97697, 0.48987 }, { 0.42778, 0.99419, 0.38575 },
  { 0.54658, 0.99907, 0.29581 }, { 0.64362, 0.98999, 0.23356 }, { 0.72596, 0.96470, 0.20640 },
  { 0.80473, 0.92452, 0.20459 }, { 0.87530, 0.87267, 0.21555 }, { 0.93301, 0.81236, 0.22667 },
  { 0.97323, 0.74682, 0.22536 }, { 0.99314, 0.67408, 0.20348 }, { 0.99593, 0.58703, 0.16899 },
  { 0.98360, 0.49291, 0.12849 }, { 0.95801, 0.39958, 0.08831 }, { 0.92105, 0.31489, 0.05475 },
  { 0.87422, 0.24526, 0.03297 }, { 0.81608, 0.18462, 0.01809 }, { 0.74617, 0.13098, 0.00851 },
  { 0.66449, 0.08436, 0.00424 }, { 0.57103, 0.04474, 0.00529 }, { 0.47960, 0.01583, 0.01055 },
};

/* c[0] + t c[1] + ... + t^(n-1) c[n-1], per channel */
static double
poly (const double (*c)[3], guint n, guint channel, double t)
{
  double v = 0.0;
  for (guint i = n; i-- > 0;)
    v = v * t + c[i][channel];
  return v;
}

static double
turbo (guint entry, guint channel)
{
  guint k = MIN (entry / 8, 31), lo = 8 * k, hi = k == 31 ? 255 : lo + 8;
  double t = (double) (entry - lo) / (hi - lo);
  return turbo_keys[k][channel] * (1.0 - t) + turbo_keys[k + 1][channel] * t;
}

static guint8
to_byte (double v)
{
  return (guint8) lround (CLAMP (v, 0.0, 1.0) * 255.0);
}

void
heed_colormap_lut (HeedColormap map, guint8 lut[256][3])
{
  for (guint i = 0; i < 256; i++) {
    double t = i / 255.0;
    for (guint ch = 0; ch < 3; ch++) {
      double v;
      switch (map) {
      case HEED_COLORMAP_VIRIDIS: v = poly (viridis_c, 7, ch, t); break;
      case HEED_COLORMAP_TURBO: v = turbo (i, ch); break;
      case HEED_COLORMAP_JET: /* red peaks at 3/4, green at 1/2, blue at 1/4 */
        v = 1.5 - fabs (4.0 * t - (3.0 - ch));
        break;
      case HEED_COLORMAP_GRAY: v = t; break;
      default: v = poly (inferno_c, 7, ch, t); break;
      }
      lut[i][ch] = to_byte (v);
    }
  }
}
