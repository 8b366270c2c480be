#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// heedkeyframe's kernel, one workgroup of 64 invocations (engine/keyframe.c), in two steps
// (one dispatch: on lavapipe each dispatch costs about as much as the work of both):
//
// FEATURES: a frame's compact embedding from its 64 x 64 thumbnail (heed_frame_thumbnail's, as
// planes R, G, B, Y, Cb, Cr in 0..1 / -0.5..0.5, BT.601, the last three converted on the host:
// reading them costs lavapipe less than converting here) into ring slot state[0]: three heads,
// each centred, then scaled to a length in 0..1, then given one more component that makes its
// length 1 (so a head with little structure sits near a common pole and two such frames agree,
// where a unit vector of noise would make every frame of a busy texture look new):
//   layout (192 + 1): per 8 x 8-pixel cell the mean luma, normalised by the cells' mean and
//                 spread (so brightness and contrast changes do not count), then 4 x Cb and
//                 4 x Cr; its length is how much of the cells' luma spread is layout rather
//                 than the pixel noise inside the cells (a cell's mean of 64 pixels varies by
//                 their variance / 64 on its own);
//   colour  (64 + 1): a histogram of (Cb, Cr) in 8 x 8 bins, each pixel shared between the 4
//                 nearest bin centres (a colour drifting across a bin edge moves it smoothly);
//                 length 1;
//   edges   (64 + 1): per cell the mean luma gradient magnitude, its length like the layout's.
// ATTENTION: frames state[1] .. state[1] + state[2] - 1 of the ring each attend, per head, over
// the window state[3] .. state[3] + state[4] - 1 (scaled dot-product over the normalised
// embeddings, softmax at `temperature`); out[query * 3 + head] = 1 - cos (query, what the
// attention reconstructs from the window): how poorly the earlier frames explain it.
//   Every dot product between two ring slots is kept in `dots` from frame to frame: a frame
//   computes only its own with each slot (window + persist + 1 per head, where the window's
//   Gram matrix and the queries' products were (window + 1) x (window / 2 + persist + 1)).
// engine/ref.c (heed_ref_keyframe_features, heed_ref_keyframe_attention) is the same in C.
//
// FROM_RGB: for frames in device memory, whose thumbnail the preprocessing shader made: the Y,
// Cb, Cr planes first, from R, G, B.
// CLS: the ATTENTION step alone, over a ring of one head of p.dim floats that the host fills:
// the ViT's CLS embeddings, when heedclassify upstream gives them (engine/keyframe.c).
layout(local_size_x_id = 0) in;

const uint S = 64u, CELLS = 64u, MAX_WINDOW = 16u, MAX_PAIRS = 64u;
#ifdef CLS
const uint HEADS = 1u;
#define DIM p.dim
#define HEAD_OFF(h) 0u
#define HEAD_LEN(h) p.dim
#else
const uint DIM = 323u, HEADS = 3u;
// each head's floats, the length-making component last (engine/heed-private.h's table)
const uint head_off[3] = uint[](0u, 193u, 258u), head_len[3] = uint[](193u, 65u, 65u);
#define HEAD_OFF(h) head_off[h]
#define HEAD_LEN(h) head_len[h]
#endif

#ifdef FROM_RGB
layout(std430, binding = 0) coherent buffer BufThumb { float thumb[]; };
#define THUMB(i) thumb[i]
#else
// read as texels: a gather, where a storage-buffer load is a loop over the lanes on lavapipe
// (see gemm.comp)
layout(binding = 0) uniform samplerBuffer thumb_texels;
#define THUMB(i) thumb_at(i)
float thumb_at(uint i)
{
  return texelFetch(thumb_texels, int(i >> 2u))[i & 3u];
}
#endif
layout(std430, binding = 1) readonly buffer BufState { uint state[]; };
layout(std430, binding = 2) buffer BufRing { float ring[]; };
layout(std430, binding = 3) writeonly buffer BufOut { float outp[]; };
// [head][slot][slot]: each pair of ring slots' dot product, kept between frames (not CLS: its
// ring is filled by the host, with frames the kernel does not see)
layout(std430, binding = 4) buffer BufDots { float dots[]; };

layout(push_constant) uniform Params {
  uint ring_slots;
  float temperature;
  uint dim; // CLS: floats per ring slot
} p;

#ifndef CLS
const uint HIST_ONE = 1024u; // a pixel's share of the histogram, in fixed point (integer atomics)
shared float feat[DIM];
shared uint hist[64];
shared float within[2 * CELLS]; // per cell the variance of its pixels' luma, and of their edges
shared float stat[4];            // the cells' luma mean and spread, the layout's and edges' length

// The reliable part of the cells' spread: 1 minus the share of the variance between the cells'
// means that the pixels' variance inside the cells explains, square-rooted; 0 for no spread.
float structure(float between, float inside)
{
  return between > 1e-10 ? sqrt(max(0.0, between - inside) / between) : 0.0;
}

// Centres one head's `len` floats, scales them to `length` and sets the component after them
// so the whole head has length 1 (invocation 0 of the workgroup).
void normalise(uint off, uint len, float length)
{
  float mean = 0.0;
  for (uint i = 0u; i < len; i++)
    mean += feat[off + i];
  mean /= float(len);
  float norm = 0.0;
  for (uint i = 0u; i < len; i++) {
    feat[off + i] -= mean;
    norm += feat[off + i] * feat[off + i];
  }
  const float scale = length / (sqrt(norm) + 1e-3);
  float kept = 0.0;
  for (uint i = 0u; i < len; i++) {
    feat[off + i] *= scale;
    kept += feat[off + i] * feat[off + i];
  }
  feat[off + len] = sqrt(max(0.0, 1.0 - kept));
}

void features()
{
  const uint c = gl_LocalInvocationID.x, P = S * S;
#ifdef FROM_RGB
  if (c < 64u)
    hist[c] = 0u;
#else
  // a host-made thumbnail comes with its histogram (engine/keyframe.c, the same sums)
  if (c < 64u)
    hist[c] = uint(THUMB(6u * P + c));
#endif
#ifdef FROM_RGB
  // a frame from device memory: the preprocessing shader wrote R, G, B only
  for (uint i = c; i < P; i += gl_WorkGroupSize.x) {
    const float r = thumb[i], g = thumb[P + i], b = thumb[2u * P + i];
    thumb[3u * P + i] = 0.299 * r + 0.587 * g + 0.114 * b;
    thumb[4u * P + i] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    thumb[5u * P + i] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  memoryBarrierBuffer();
#endif
  barrier();
  float sy = 0.0, syy = 0.0, scb = 0.0, scr = 0.0, se = 0.0, see = 0.0;
  if (c < CELLS) {
    const uint cx = c % 8u, cy = c / 8u;
    for (uint j = 0u; j < 8u; j++)
      for (uint i = 0u; i < 8u; i++) {
        const uint x = cx * 8u + i, y = cy * 8u + j, o = y * S + x;
        const float Y = THUMB(3u * P + o), cb = THUMB(4u * P + o), cr = THUMB(5u * P + o);
        sy += Y;
        syy += Y * Y;
        scb += cb;
        scr += cr;
        // the next pixel's difference, the previous one's at the last column and row (a
        // difference of 0 there would give the border cells a layout of their own)
        const uint xn = x + 1u < S ? x + 1u : x - 1u, yn = y + 1u < S ? y + 1u : y - 1u;
        const float e = abs(THUMB(3u * P + y * S + xn) - Y) + abs(THUMB(3u * P + yn * S + x) - Y);
        se += e;
        see += e * e;
#ifdef FROM_RGB
        // bin centres at (k + 0.5) / 8 - 0.5: the pixel's share goes to the 4 around it
        const float u = clamp((cb + 0.5) * 8.0 - 0.5, 0.0, 7.0);
        const float v = clamp((cr + 0.5) * 8.0 - 0.5, 0.0, 7.0);
        const uint u0 = min(uint(u), 6u), v0 = min(uint(v), 6u);
        const float fu = u - float(u0), fv = v - float(v0);
        const uint b = u0 * 8u + v0;
        atomicAdd(hist[b], uint(floor((1.0 - fu) * (1.0 - fv) * float(HIST_ONE) + 0.5)));
        atomicAdd(hist[b + 1u], uint(floor((1.0 - fu) * fv * float(HIST_ONE) + 0.5)));
        atomicAdd(hist[b + 8u], uint(floor(fu * (1.0 - fv) * float(HIST_ONE) + 0.5)));
        atomicAdd(hist[b + 9u], uint(floor(fu * fv * float(HIST_ONE) + 0.5)));
#endif
      }
    feat[c] = sy / 64.0;
    feat[64u + c] = 4.0 * scb / 64.0;
    feat[128u + c] = 4.0 * scr / 64.0;
    feat[258u + c] = se / 64.0;
    within[c] = max(0.0, syy / 64.0 - (sy / 64.0) * (sy / 64.0));
    within[CELLS + c] = max(0.0, see / 64.0 - (se / 64.0) * (se / 64.0));
  }
  barrier();
  if (c == 0u) {
    float m = 0.0, v = 0.0, me = 0.0, ve = 0.0, wy = 0.0, we = 0.0;
    for (uint i = 0u; i < CELLS; i++) {
      m += feat[i];
      me += feat[258u + i];
      wy += within[i];
      we += within[CELLS + i];
    }
    m /= float(CELLS);
    me /= float(CELLS);
    for (uint i = 0u; i < CELLS; i++) {
      v += (feat[i] - m) * (feat[i] - m);
      ve += (feat[258u + i] - me) * (feat[258u + i] - me);
    }
    v /= float(CELLS);
    ve /= float(CELLS);
    stat[0] = m;
    stat[1] = sqrt(v) + 0.02;
    // a cell's mean of 64 pixels varies by their variance / 64 without any layout
    stat[2] = structure(v, wy / float(CELLS) / 64.0);
    stat[3] = structure(ve, we / float(CELLS) / 64.0);
  }
  barrier();
  if (c < 64u) {
    feat[c] = (feat[c] - stat[0]) / stat[1];
    feat[193u + c] = float(hist[c]) / float(P * HIST_ONE);
  }
  barrier();
  if (c == 0u) {
    normalise(0u, 192u, stat[2]);
    normalise(193u, 64u, 1.0);
    normalise(258u, 64u, stat[3]);
  }
  barrier();
  const uint base = state[0] * DIM;
  for (uint i = c; i < DIM; i += gl_WorkGroupSize.x)
    ring[base + i] = feat[i];
}

#endif

// The attention in two steps with every invocation busy (one invocation per query and head,
// each looping over the window and the elements, left most of the workgroup idle and was the
// slowest part): first every dot product it needs, then per query and head the softmax and
// the cosine, both from dot products: q . r = sum_k w_k (q . k_k) and |r|^2 = w^T G w, G the
// window's Gram matrix (shared by all queries).
shared float qk[MAX_PAIRS * MAX_WINDOW]; // [query * HEADS + head][key]: q . k
shared float gram[HEADS * MAX_WINDOW * MAX_WINDOW]; // [head][key][key]
shared float qq[MAX_PAIRS];

float head_dot(uint a, uint b, uint off, uint len)
{
  float d = 0.0;
  for (uint e = 0u; e < len; e++)
    d += ring[a + off + e] * ring[b + off + e];
  return d;
}

#ifdef CLS
float slot_dot(uint h, uint a, uint b)
{
  return head_dot(a * DIM, b * DIM, HEAD_OFF(h), HEAD_LEN(h));
}
#else
// the new frame's (ring slot state[0]) dot product with each slot, per head
const uint MAX_SLOTS = MAX_WINDOW + 64u / HEADS;
shared float fresh[HEADS * MAX_SLOTS];

void fresh_dots()
{
  const uint s0 = state[0], rs = p.ring_slots;
  for (uint t = gl_LocalInvocationID.x; t < HEADS * rs; t += gl_WorkGroupSize.x) {
    const uint h = t / rs, s = t % rs, off = HEAD_OFF(h), len = HEAD_LEN(h);
    float d = 0.0;
    if (s == s0) {
      for (uint e = 0u; e < len; e++)
        d += feat[off + e] * feat[off + e];
    } else {
      for (uint e = 0u; e < len; e++)
        d += feat[off + e] * ring[s * DIM + off + e];
    }
    fresh[h * MAX_SLOTS + s] = d;
    dots[(h * rs + s0) * rs + s] = d;
    dots[(h * rs + s) * rs + s0] = d;
  }
}

// the slots' dot product: the new frame's from this dispatch, the others' from earlier ones
float slot_dot(uint h, uint a, uint b)
{
  const uint s0 = state[0], rs = p.ring_slots;
  if (a == s0)
    return fresh[h * MAX_SLOTS + b];
  if (b == s0)
    return fresh[h * MAX_SLOTS + a];
  return dots[(h * rs + a) * rs + b];
}
#endif

uint window_slot(uint k)
{
  return (state[3] + k) % p.ring_slots;
}

void attention()
{
  const uint lane = gl_LocalInvocationID.x, pairs = state[2] * HEADS;
  const uint n = min(state[4], MAX_WINDOW);
  for (uint t = lane; t < HEADS * n * n; t += gl_WorkGroupSize.x) {
    const uint h = t / (n * n), a = (t / n) % n, b = t % n;
    if (a <= b) {
      const float d = slot_dot(h, window_slot(a), window_slot(b));
      gram[(h * MAX_WINDOW + a) * MAX_WINDOW + b] = d;
      gram[(h * MAX_WINDOW + b) * MAX_WINDOW + a] = d;
    }
  }
  for (uint t = lane; t < pairs * (n + 1u); t += gl_WorkGroupSize.x) {
    const uint pair = t / (n + 1u), k = t % (n + 1u), h = pair % HEADS;
    const uint qs = (state[1] + pair / HEADS) % p.ring_slots;
    // k == n: the query with itself
    const float d = slot_dot(h, qs, k < n ? window_slot(k) : qs);
    if (k < n)
      qk[pair * MAX_WINDOW + k] = d;
    else
      qq[pair] = d;
  }
  memoryBarrierShared();
  barrier();
  if (lane >= pairs)
    return;
  const uint h = lane % HEADS;
  float top = -1e30;
  for (uint k = 0u; k < n; k++)
    top = max(top, qk[lane * MAX_WINDOW + k] / p.temperature);
  float total = 0.0, qr = 0.0, rr = 0.0;
  for (uint k = 0u; k < n; k++)
    total += exp(qk[lane * MAX_WINDOW + k] / p.temperature - top);
  for (uint a = 0u; a < n; a++) {
    const float wa = exp(qk[lane * MAX_WINDOW + a] / p.temperature - top) / total;
    qr += wa * qk[lane * MAX_WINDOW + a];
    float row = 0.0;
    for (uint b = 0u; b < n; b++)
      row += exp(qk[lane * MAX_WINDOW + b] / p.temperature - top) / total *
             gram[(h * MAX_WINDOW + a) * MAX_WINDOW + b];
    rr += wa * row;
  }
  outp[lane] = n == 0u ? 0.0 : 1.0 - qr / (sqrt(qq[lane]) * sqrt(max(rr, 0.0)) + 1e-6);
}

void main()
{
#ifndef CLS
  features();
  fresh_dots();
  memoryBarrierShared();
  barrier();
#endif
  attention();
}
