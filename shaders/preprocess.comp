#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// From a raw video frame to the ViT's input in two passes, the way Pillow resizes an 8-bit RGB
// image (what timm's eval transform and transformers' image processors call):
//   ROWS: colour conversion (packed RGB, planar and packed YUV, gray) to 8-bit RGB, then each
//         source row resized horizontally to the kept columns, rounded to 8 bits (kept as
//         floats: heed-box8, for the model trained on it, rounds nothing);
//   else: each kept column resized vertically, rounded to 8 bits, placed in the size x size
//         input (letterbox bars are black), normalised; writes float32 NCHW [3][size][size].
// Each output pixel's taps and weights are Pillow's (libImaging/Resample.c): the filter widened
// by the scale when shrinking (antialiasing), weights normalised to sum to 1.
// engine/ref.c (heed_ref_preprocess) is the same arithmetic in C.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;

// The rows between the passes are vec4s ([row][col], RGB and a spare), so a pixel is one store
// and one load.
//
// The TEXELS variants (lavapipe's) read the frame's words, and the rows, as texel buffers and the
// parameters as a uniform buffer: there a storage-buffer load is a loop over the SIMD lanes with
// a bounds check each, where a texel fetch is one gather and a uniform load at the same index
// for every lane is one load (see gemm.comp).
#ifdef TEXELS
layout(std140, binding = 1) uniform BufParams { vec4 params4[5]; };
#define PARAM(i) params4[(i) / 4u][(i) % 4u]
#else
layout(std430, binding = 1) readonly buffer BufParams { float params[]; };
#define PARAM(i) params[i]
#endif
#ifdef ROWS
#ifdef TEXELS
layout(binding = 0) uniform usamplerBuffer frame_texels; // the frame's bytes as 32-bit words
#define WORD(i) texelFetch(frame_texels, int((i) >> 2))[(i) & 3u]
#else
layout(std430, binding = 0) readonly buffer BufFrame { uint words[]; };
#define WORD(i) words[i]
#endif
layout(std430, binding = 2) writeonly buffer BufRows { vec4 rows_out[]; };
#else
#ifdef TEXELS
layout(binding = 0) uniform samplerBuffer rows_texels;
#define ROW(i) texelFetch(rows_texels, int(i))
#else
layout(std430, binding = 0) readonly buffer BufRows { vec4 rows_in[]; };
#define ROW(i) rows_in[i]
#endif
layout(std430, binding = 2) writeonly buffer BufOut { float outp[]; };
#endif

layout(push_constant) uniform Params {
  uint format, width, height;
  uint offset0, offset1, offset2; // plane offsets in bytes
  uint stride0, stride1, stride2; // plane strides in bytes
  uint size;                      // the model's input is size x size
  uint filter_kind;               // HeedInterpolation
  uint row0, n_rows;              // the source rows the row pass resampled
  uint resized_x, resized_y;      // the whole frame resized to this many pixels,
  uint first_x, first_y;          // of which count from first on are kept (the crop)
  uint count_x, count_y;
  uint offset_x, offset_y;        // and land here in the input (letterbox)
  // in / resized per axis, and 1 / max(that, 1), divided on the host: a GPU's division may be
  // 2.5 ulp out (Vulkan allows it), and a box filter's edge then takes the pixel beside the one
  // Pillow and the C reference take (seen on an NVIDIA H200)
  float scale_x, scale_y, inv_scale_x, inv_scale_y;
  // 0: the column pass writes planes R, G, B; else the rows of patch x patch squares that the
  // patch-embedding GEMM reads (patchify.comp's layout), so no patchify pass is needed
  uint patch_size;
  uint out_off; // floats: where the output starts (a batch's frames share the patch rows)
} push;
// The push constants, copied once at the top of main, before the early return: lavapipe loads a
// push constant inside a branch or a loop (the tap loops read the plane offsets and strides for
// every tap) as a gather, one lane at a time, each time it is read
struct PreprocessParams {
  uint format, width, height;
  uint offset0, offset1, offset2;
  uint stride0, stride1, stride2;
  uint size;
  uint filter_kind;
  uint row0, n_rows;
  uint resized_x, resized_y;
  uint first_x, first_y;
  uint count_x, count_y;
  uint offset_x, offset_y;
  float scale_x, scale_y, inv_scale_x, inv_scale_y;
  uint patch_size, out_off;
};
PreprocessParams p;
void read_params()
{
  p = PreprocessParams(push.format, push.width, push.height, push.offset0, push.offset1,
                       push.offset2, push.stride0, push.stride1, push.stride2, push.size,
                       push.filter_kind, push.row0, push.n_rows, push.resized_x, push.resized_y,
                       push.first_x, push.first_y, push.count_x, push.count_y, push.offset_x,
                       push.offset_y, push.scale_x, push.scale_y, push.inv_scale_x,
                       push.inv_scale_y, push.patch_size, push.out_off);
}

// 0: the format and filter come from the push constants; else 1 + format + 16 * filter, fixed
// when the pipeline is built, so the compiler drops the other formats' and filters' code
// (lavapipe runs every branch of a non-constant if under a mask: with all formats' paths in
// the tap loop, the row pass took 10 times as long)
layout(constant_id = 1) const uint VARIANT = 0u;
#define FORMAT (VARIANT != 0u ? (VARIANT - 1u) % 16u : p.format)
#define FILTER_KIND (VARIANT != 0u ? (VARIANT - 1u) / 16u : p.filter_kind)

// keep in step with HeedInterpolation
const uint BILINEAR = 0u, BICUBIC = 1u, LANCZOS = 2u, BOX = 3u, HAMMING = 4u, NEAREST = 5u;
const uint HEED_BOX8 = 6u; // heed's first resampler, for the model trained on it
const float PI = 3.14159265358979;

float support_of(uint f)
{
  return f == BICUBIC ? 2.0 : f == LANCZOS ? 3.0 : f == BOX ? 0.5 : f == NEAREST ? 0.0 : 1.0;
}

float sinc(float x)
{
  return x == 0.0 ? 1.0 : sin(PI * x) / (PI * x);
}

float filter_at(float x)
{
  const uint f = FILTER_KIND;
  if (f == BOX)
    return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
  x = abs(x);
  if (f == BILINEAR)
    return x < 1.0 ? 1.0 - x : 0.0;
  if (f == BICUBIC) {
    const float a = -0.5;
    if (x < 1.0)
      return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    return x < 2.0 ? (((x - 5.0) * x + 8.0) * x - 4.0) * a : 0.0;
  }
  if (f == LANCZOS)
    return x < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0;
  if (f == HAMMING) {
    if (x >= 1.0)
      return 0.0;
    return sinc(x) * (0.54 + 0.46 * cos(PI * x));
  }
  return 1.0; // NEAREST: its one tap
}

// Pillow's taps for resized pixel X of an axis of in_size pixels resized by `scale` (in /
// resized, divided on the host).
// The tap positions are `precise` (no multiply-add fused across them), as the C reference rounds
// them: Vulkan lets a driver fuse a * b + c, and a box filter's edge then moves by a pixel.
void span(uint X, uint in_size, float scale, out int first, out int n, out float center)
{
  const float filterscale = max(scale, 1.0);
  precise float support = support_of(FILTER_KIND) * filterscale;
  precise float c = (float(X) + 0.5) * scale;
  center = c;
  if (FILTER_KIND == NEAREST) {
    first = min(int(floor(c)), int(in_size) - 1);
    n = 1;
    return;
  }
  precise float lo = c - support + 0.5, hi = c + support + 0.5;
  first = max(int(lo), 0);
  n = min(int(hi), int(in_size)) - first;
}

// a tap's distance from the centre, for filter_at
float tap_distance(int j, float center, float inv_scale)
{
  precise float x = (float(j) - center + 0.5) * inv_scale;
  return x;
}

// HEED_BOX8's taps for resized pixel X (engine/frame.c heed_resample_box8_taps): the mean of
// at most 8 point samples over what the pixel covers when shrinking, else linear; box8_count
// of them, box8_tap gives each.
uint box8_count(float step)
{
  return step > 1.0 ? min(uint(ceil(step - 1e-4)), 8u) : 2u;
}

uint box8_tap(uint X, uint in_size, float step, uint n, uint k, out float w)
{
  precise float pos = (float(X) + 0.5) * step;
  if (step > 1.0) {
    precise float first = pos - 0.5 * step;
    precise float at = first + (float(k) + 0.5) * step / float(n);
    w = 1.0 / float(n);
    return uint(clamp(floor(at), 0.0, float(in_size - 1u)));
  }
  precise float below = pos - 0.5;
  const float c = clamp(below, 0.0, float(in_size - 1u));
  const float i0 = floor(c);
  w = k == 0u ? 1.0 - (c - i0) : c - i0;
  return k == 0u ? uint(i0) : min(uint(i0) + 1u, in_size - 1u);
}

// Pillow rounds every pass of an 8-bit image to the nearest code.
vec3 to_code(vec3 v)
{
  return clamp(floor(v + 0.5), 0.0, 255.0);
}

// formats: keep in step with HeedPixelFormat
const uint RGBA = 0u, BGRA = 1u, RGBX = 2u, BGRX = 3u, XRGB = 4u, XBGR = 5u, RGB = 6u, BGR = 7u;
const uint I420 = 8u, NV12 = 9u, YUY2 = 10u, GRAY8 = 11u;

#ifdef ROWS
// source rows an invocation of the row pass resamples (engine/ops.c's PREPROCESS_ROWS_AT_ONCE)
const uint ROWS_AT_ONCE = 4u;

void store_row(uint i, vec3 v)
{
  rows_out[i] = vec4(v, 0.0);
}

uint byte_at(uint off)
{
  return (WORD(off >> 2) >> ((off & 3u) * 8u)) & 0xffu;
}

// params: [6..14] YUV->RGB matrix (row-major, on 0..255 values minus the offsets, giving
// 0..1), [15..17] Y/U/V offsets; loaded once an invocation (load_yuv_matrix), not once a tap
mat3 yuv_matrix;
vec3 yuv_offsets;

void load_yuv_matrix()
{
  // GLSL matrices are column-major: column j holds row-major entries j, j + 3, j + 6
  yuv_matrix = mat3(PARAM(6u), PARAM(9u), PARAM(12u), PARAM(7u), PARAM(10u), PARAM(13u), PARAM(8u),
                    PARAM(11u), PARAM(14u));
  yuv_offsets = vec3(PARAM(15u), PARAM(16u), PARAM(17u));
}

vec3 yuv_to_rgb(float y, float u, float v)
{
  return yuv_matrix * (vec3(y, u, v) - yuv_offsets);
}

// the RGB codes of a pixel of the packed 32-bit formats (FORMAT <= XBGR)
vec3 rgb_of_word(uint w)
{
  const uint f = FORMAT;
  const vec4 b = vec4(float(w & 0xffu), float((w >> 8) & 0xffu), float((w >> 16) & 0xffu),
                      float(w >> 24));
  if (f == RGBA || f == RGBX)
    return b.xyz;
  if (f == BGRA || f == BGRX)
    return b.zyx;
  return f == XRGB ? b.yzw : b.wzy;
}

// 8-bit RGB codes of source pixel (x, y): YUV is converted and rounded as a decoder to RGB
// would
vec3 fetch(uint x, uint y)
{
  const uint f = FORMAT;
  if (f <= XBGR)
    return rgb_of_word(WORD((p.offset0 + y * p.stride0 + x * 4u) >> 2));
  if (f == RGB || f == BGR) {
    const uint o = p.offset0 + y * p.stride0 + x * 3u;
    const vec3 c = vec3(float(byte_at(o)), float(byte_at(o + 1u)), float(byte_at(o + 2u)));
    return f == RGB ? c : c.zyx;
  }
  if (f == GRAY8)
    return vec3(float(byte_at(p.offset0 + y * p.stride0 + x)));
  float Y, U, V;
  if (f == YUY2) {
    const uint w = WORD((p.offset0 + y * p.stride0 + (x >> 1) * 4u) >> 2);
    Y = float((x & 1u) == 0u ? (w & 0xffu) : ((w >> 16) & 0xffu));
    U = float((w >> 8) & 0xffu);
    V = float(w >> 24);
  } else {
    Y = float(byte_at(p.offset0 + y * p.stride0 + x));
    const uint cx = x >> 1, cy = y >> 1;
    if (f == NV12) {
      const uint o = p.offset1 + cy * p.stride1 + cx * 2u;
      U = float(byte_at(o));
      V = float(byte_at(o + 1u));
    } else {
      U = float(byte_at(p.offset1 + cy * p.stride1 + cx));
      V = float(byte_at(p.offset2 + cy * p.stride2 + cx));
    }
  }
  const vec3 rgb = clamp(yuv_to_rgb(Y, U, V), 0.0, 1.0) * 255.0;
  return FILTER_KIND == HEED_BOX8 ? rgb : to_code(rgb); // Pillow sees decoded 8-bit RGB
}
#endif

#ifndef ROWS
vec3 load_row(uint i)
{
  return ROW(i).rgb;
}
#endif

void main()
{
  read_params();
#ifdef ROWS
  // one invocation per kept column of ROWS_AT_ONCE source rows (from the workgroup's y): a
  // column's taps and weights are the same in every row, so they are worked out once for them
  const uint col = gl_GlobalInvocationID.x, row_first = gl_WorkGroupID.y * ROWS_AT_ONCE;
  load_yuv_matrix(); // before the return, for the same reason as read_params
  if (col >= p.count_x)
    return;
  const uint rows_here = min(ROWS_AT_ONCE, p.n_rows - row_first);
  uint src_row[ROWS_AT_ONCE]; // the frame's rows; past the last one, the last (not stored)
  [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
    src_row[r] = p.row0 + min(row_first + r, p.n_rows - 1u);
  if (FILTER_KIND == HEED_BOX8) {
    const uint m = box8_count(p.scale_x);
    vec3 acc[ROWS_AT_ONCE];
    [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
      acc[r] = vec3(0.0);
    for (uint k = 0u; k < m; k++) {
      float w;
      const uint x = box8_tap(p.first_x + col, p.width, p.scale_x, m, k, w);
      [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
        acc[r] += w * fetch(x, src_row[r]);
    }
    [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
      if (r < rows_here) // unrounded, as heed-box8 always was
        store_row((row_first + r) * p.count_x + col, acc[r]);
    return;
  }
  int first, n;
  float center;
  span(p.first_x + col, p.width, p.scale_x, first, n, center);
#ifdef TEXELS
  if (FORMAT <= XBGR && n > 0) {
    // A texel holds four pixels of these formats, so the taps go a texel at a time: a texel
    // fetch is a call on lavapipe (measured: a 1080p RGBA frame's preprocessing 6.4-7.0 ms
    // before, 3.6-5.4 after). The pixels of the first and last texels outside the taps weigh
    // exactly 0 and add nothing, and the taps are summed in the same order as below, so the
    // result is the same to the bit. The texels fall differently in each row (a stride need
    // not be a whole number of texels), so each row works out its own weights.
    for (uint r = 0u; r < rows_here; r++) {
      vec3 sum = vec3(0.0);
      float total = 0.0;
      const uint row_word = (p.offset0 + (p.row0 + row_first + r) * p.stride0) >> 2;
      const uint t_first = (row_word + uint(first)) >> 2;
      const uint t_last = (row_word + uint(first + n - 1)) >> 2;
      for (uint t = t_first; t <= t_last; t++) {
        const uvec4 words = texelFetch(frame_texels, int(t));
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
          const int x = int(4u * t + j - row_word);
          const bool tap = x >= first && x < first + n;
          const float w = tap ? filter_at(tap_distance(x, center, p.inv_scale_x)) : 0.0;
          total += w;
          sum += w * rgb_of_word(words[j]);
        }
      }
      store_row((row_first + r) * p.count_x + col, to_code(total != 0.0 ? sum / total : sum));
    }
    return;
  }
#endif
  vec3 sum[ROWS_AT_ONCE];
  [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
    sum[r] = vec3(0.0);
  float total = 0.0;
  for (int k = 0; k < n; k++) {
    const float w = filter_at(tap_distance(first + k, center, p.inv_scale_x));
    total += w;
    [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
      sum[r] += w * fetch(uint(first + k), src_row[r]);
  }
  [[unroll]] for (uint r = 0u; r < ROWS_AT_ONCE; r++)
    if (r < rows_here)
      store_row((row_first + r) * p.count_x + col,
                to_code(total != 0.0 ? sum[r] / total : sum[r]));
#else
  // one invocation per pixel of the model's input
  const vec3 norm_scale = vec3(PARAM(0u), PARAM(1u), PARAM(2u)); // read before the return
  const vec3 norm_offset = vec3(PARAM(3u), PARAM(4u), PARAM(5u));
  const uint gid = gl_GlobalInvocationID.x;
  const uint plane = p.size * p.size;
  if (gid >= plane)
    return;
  const uint ox = gid % p.size, oy = gid / p.size;
  vec3 rgb = vec3(0.0); // letterbox bars are black
  if (ox >= p.offset_x && ox < p.offset_x + p.count_x && oy >= p.offset_y &&
      oy < p.offset_y + p.count_y) {
    const uint col = ox - p.offset_x;
    vec3 sum = vec3(0.0);
    float total = 0.0;
    int first, n = 0;
    float center;
    if (FILTER_KIND == HEED_BOX8) {
      const uint m = box8_count(p.scale_y);
      for (uint k = 0u; k < m; k++) {
        float w;
        const uint y = box8_tap(p.first_y + oy - p.offset_y, p.height, p.scale_y, m, k, w);
        const uint r = uint(clamp(int(y) - int(p.row0), 0, int(p.n_rows) - 1));
        sum += w * load_row(r * p.count_x + col);
      }
      total = 1.0;
    } else {
      span(p.first_y + oy - p.offset_y, p.height, p.scale_y, first, n, center);
    }
    for (int k = 0; k < n; k++) {
      const float w = filter_at(tap_distance(first + k, center, p.inv_scale_y));
      const uint r = uint(clamp(first + k - int(p.row0), 0, int(p.n_rows) - 1));
      total += w;
      sum += w * load_row(r * p.count_x + col);
    }
    const vec3 v = total != 0.0 ? sum / total : sum;
    rgb = (FILTER_KIND == HEED_BOX8 ? v : to_code(v)) / 255.0;
  }
  const vec3 v = rgb * norm_scale + norm_offset;
  // Where R goes, and how far G and B are from it: planes, or a patch row's (channel, y, x),
  // chosen by index, not by an if (lavapipe would run both sets of stores). The pixel's patch
  // by a multiply: a division by a per-pixel value is a loop over the lanes on a CPU (and
  // exact here: (o + 0.5) / P lies at least 0.5 / P from a whole number, far more than a
  // float's error for o < 2^16).
  const uint P = max(p.patch_size, 1u), grid = p.size / P;
  const float inv_p = 1.0 / float(P);
  const uint py = uint((float(oy) + 0.5) * inv_p), px = uint((float(ox) + 0.5) * inv_p);
  const uint in_patch = ((py * grid + px) * 3u * P + (oy - py * P)) * P + (ox - px * P);
  const uint at = p.out_off + (p.patch_size == 0u ? gid : in_patch);
  const uint channel = p.patch_size == 0u ? plane : P * P;
  outp[at] = v.r;
  outp[at + channel] = v.g;
  outp[at + 2u * channel] = v.b;
#endif
}
