#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// heedkeyframe's kernel, one workgroup of 64 invocations (engine/keyframe.c), in two steps
// (one dispatch: on lavapipe each dispatch costs about as much as the work of both):
//
// FEATURES: a frame's compact embedding from its 64 x 64 thumbnail (heed_frame_thumbnail's, as
// planes R, G, B, Y, Cb, Cr in 0..1 / -0.5..0.5, BT.601, the last three converted on the host:
// reading them costs lavapipe less than converting here) into ring slot state[0]: three heads,
// each centred and L2-normalised,
//   layout (192): per 8 x 8-pixel cell the mean luma, normalised by the cells' mean and spread
//                 (so brightness and contrast changes do not count), then 4 x Cb and 4 x Cr;
//   colour  (64): a histogram of (Cb, Cr) in 8 x 8 bins;
//   edges   (64): per cell the mean luma gradient magnitude.
// ATTENTION: frames state[1] .. state[1] + state[2] - 1 of the ring each attend, per head, over
// the window state[3] .. state[3] + state[4] - 1 (scaled dot-product over the normalised
// embeddings, softmax at `temperature`); out[query * 3 + head] = 1 - cos (query, what the
// attention reconstructs from the window): how poorly the earlier frames explain it.
// engine/ref.c (heed_ref_keyframe_features, heed_ref_keyframe_attention) is the same in C.
//
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
const uint DIM = 320u, HEADS = 3u;
const uint head_off[3] = uint[](0u, 192u, 256u), head_len[3] = uint[](192u, 64u, 64u);
#define HEAD_OFF(h) head_off[h]
#define HEAD_LEN(h) head_len[h]
#endif

layout(std430, binding = 0) readonly buffer BufThumb { float thumb[]; };
layout(std430, binding = 1) readonly buffer BufState { uint state[]; };
layout(std430, binding = 2) coherent buffer BufRing { float ring[]; };
layout(std430, binding = 3) writeonly buffer BufOut { float outp[]; };

layout(push_constant) uniform Params {
  uint ring_slots;
  float temperature;
  uint dim; // CLS: floats per ring slot
} p;

#ifndef CLS
shared float feat[DIM];
shared uint hist[64];
shared float stat[2];

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

void features()
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
        const float Y = thumb[3u * P + o], cb = thumb[4u * P + o], cr = thumb[5u * P + o];
        sy += Y;
        scb += cb;
        scr += cr;
        se += abs(thumb[3u * P + y * S + min(x + 1u, S - 1u)] - Y) +
              abs(thumb[3u * P + min(y + 1u, S - 1u) * S + x] - Y);
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

uint window_slot(uint k)
{
  return ((state[3] + k) % p.ring_slots) * DIM;
}

void attention()
{
  const uint lane = gl_LocalInvocationID.x, pairs = state[2] * HEADS;
  const uint n = min(state[4], MAX_WINDOW);
  for (uint t = lane; t < HEADS * n * n; t += gl_WorkGroupSize.x) {
    const uint h = t / (n * n), a = (t / n) % n, b = t % n;
    if (a <= b) {
      const float d = head_dot(window_slot(a), window_slot(b), HEAD_OFF(h), HEAD_LEN(h));
      gram[(h * MAX_WINDOW + a) * MAX_WINDOW + b] = d;
      gram[(h * MAX_WINDOW + b) * MAX_WINDOW + a] = d;
    }
  }
  for (uint t = lane; t < pairs * (n + 1u); t += gl_WorkGroupSize.x) {
    const uint pair = t / (n + 1u), k = t % (n + 1u), h = pair % HEADS;
    const uint qs = ((state[1] + pair / HEADS) % p.ring_slots) * DIM;
    // k == n: the query with itself
    const float d = head_dot(qs, k < n ? window_slot(k) : qs, HEAD_OFF(h), HEAD_LEN(h));
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
  memoryBarrierBuffer(); // the new embedding, visible to the whole workgroup
  barrier();
#endif
  attention();
}
