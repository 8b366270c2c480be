#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// heedkeyframe's two kernels, one workgroup of 64 invocations each (engine/keyframe.c).
//
// FEATURES: a frame's compact embedding from its 64 x 64 thumbnail (the preprocessing's output,
// RGB in 0..1, CHW) into ring slot state[0]: three heads, each centred and L2-normalised,
//   layout (192): per 8 x 8-pixel cell the mean luma, normalised by the cells' mean and spread
//                 (so brightness and contrast changes do not count), then 4 x Cb and 4 x Cr;
//   colour  (64): a histogram of (Cb, Cr) in 8 x 8 bins;
//   edges   (64): per cell the mean luma gradient magnitude.
// ATTENTION: frames state[1] .. state[1] + state[2] - 1 of the ring each attend, per head, over
// the window state[3] .. state[3] + state[4] - 1 (scaled dot-product over the normalised
// embeddings, softmax at `temperature`); out[query * 3 + head] = 1 - cos (query, what the
// attention reconstructs from the window): how poorly the earlier frames explain it.
// engine/ref.c (heed_ref_keyframe_features, heed_ref_keyframe_attention) is the same in C.
layout(local_size_x_id = 0) in;

const uint S = 64u, CELLS = 64u, DIM = 320u, HEADS = 3u, MAX_WINDOW = 32u;
const uint head_off[3] = uint[](0u, 192u, 256u), head_len[3] = uint[](192u, 64u, 64u);

#ifdef FEATURES
layout(std430, binding = 0) readonly buffer BufThumb { float thumb[]; };
layout(std430, binding = 1) readonly buffer BufState { uint state[]; };
layout(std430, binding = 2) buffer BufRing { float ring[]; };
#else
layout(std430, binding = 0) readonly buffer BufRing { float ring[]; };
layout(std430, binding = 1) readonly buffer BufState { uint state[]; };
layout(std430, binding = 2) writeonly buffer BufOut { float outp[]; };
#endif

layout(push_constant) uniform Params {
  uint ring_slots;
  float temperature;
} p;

#ifdef FEATURES
shared float feat[DIM];
shared uint hist[64];
shared float stat[2];

float luma(uint x, uint y)
{
  const uint o = y * S + x;
  return dot(vec3(thumb[o], thumb[S * S + o], thumb[2u * S * S + o]), vec3(0.299, 0.587, 0.114));
}

// Centres and L2-normalises one head (invocation 0 of the workgroup).
void normalise(uint off, uint len)
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
  const float scale = 1.0 / (sqrt(norm) + 1e-3);
  for (uint i = 0u; i < len; i++)
    feat[off + i] *= scale;
}

void main()
{
  const uint c = gl_LocalInvocationID.x, P = S * S;
  if (c < 64u)
    hist[c] = 0u;
  barrier();
  float sy = 0.0, scb = 0.0, scr = 0.0, se = 0.0;
  if (c < CELLS) {
    const uint cx = c % 8u, cy = c / 8u;
    for (uint j = 0u; j < 8u; j++)
      for (uint i = 0u; i < 8u; i++) {
        const uint x = cx * 8u + i, y = cy * 8u + j, o = y * S + x;
        const vec3 rgb = vec3(thumb[o], thumb[P + o], thumb[2u * P + o]);
        const float Y = dot(rgb, vec3(0.299, 0.587, 0.114));
        const float cb = dot(rgb, vec3(-0.168736, -0.331264, 0.5));
        const float cr = dot(rgb, vec3(0.5, -0.418688, -0.081312));
        sy += Y;
        scb += cb;
        scr += cr;
        se += abs(luma(min(x + 1u, S - 1u), y) - Y) + abs(luma(x, min(y + 1u, S - 1u)) - Y);
        const uint b = uint(clamp(floor((cb + 0.5) * 8.0), 0.0, 7.0)) * 8u +
                       uint(clamp(floor((cr + 0.5) * 8.0), 0.0, 7.0));
        atomicAdd(hist[b], 1u);
      }
    feat[c] = sy / 64.0;
    feat[64u + c] = 4.0 * scb / 64.0;
    feat[128u + c] = 4.0 * scr / 64.0;
    feat[256u + c] = se / 64.0;
  }
  barrier();
  if (c == 0u) {
    float m = 0.0, v = 0.0;
    for (uint i = 0u; i < CELLS; i++)
      m += feat[i];
    m /= float(CELLS);
    for (uint i = 0u; i < CELLS; i++)
      v += (feat[i] - m) * (feat[i] - m);
    stat[0] = m;
    stat[1] = sqrt(v / float(CELLS)) + 0.02;
  }
  barrier();
  if (c < 64u) {
    feat[c] = (feat[c] - stat[0]) / stat[1];
    feat[192u + c] = float(hist[c]) / float(P);
  }
  barrier();
  if (c == 0u)
    for (uint h = 0u; h < HEADS; h++)
      normalise(head_off[h], head_len[h]);
  barrier();
  const uint base = state[0] * DIM;
  for (uint i = c; i < DIM; i += gl_WorkGroupSize.x)
    ring[base + i] = feat[i];
}
#else
void main()
{
  const uint i = gl_LocalInvocationID.x, n_queries = state[2];
  if (i >= n_queries * HEADS)
    return;
  const uint q = i / HEADS, h = i % HEADS, off = head_off[h], len = head_len[h];
  const uint qs = ((state[1] + q) % p.ring_slots) * DIM + off;
  const uint n = min(state[4], MAX_WINDOW);
  float s[MAX_WINDOW];
  float top = -1e30;
  for (uint k = 0u; k < n; k++) {
    const uint ks = ((state[3] + k) % p.ring_slots) * DIM + off;
    float d = 0.0;
    for (uint e = 0u; e < len; e++)
      d += ring[qs + e] * ring[ks + e];
    s[k] = d / p.temperature;
    top = max(top, s[k]);
  }
  float total = 0.0;
  for (uint k = 0u; k < n; k++) {
    s[k] = exp(s[k] - top);
    total += s[k];
  }
  float qr = 0.0, rr = 0.0, qq = 0.0;
  for (uint e = 0u; e < len; e++) {
    float r = 0.0;
    for (uint k = 0u; k < n; k++)
      r += s[k] * ring[((state[3] + k) % p.ring_slots) * DIM + off + e];
    r /= total;
    const float qv = ring[qs + e];
    qr += qv * r;
    rr += r * r;
    qq += qv * qv;
  }
  outp[i] = n == 0u ? 0.0 : 1.0 - qr / (sqrt(qq) * sqrt(rr) + 1e-6);
}
#endif
