#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// heedoverlay's drawing: layers composited onto a raw video frame in place, in one pass.
// Layers, bottom to top: a heatmap (a grid of values upsampled bilinearly over a rectangle of
// the frame, colour-mapped through a 256-entry table, with a per-cell alpha), then up to
// MAX_SPRITES premultiplied RGBA images (text boxes, marks) at integer positions.
//
// The frame is blended as out = orig * (1 - A) + colour, with (colour, A) the premultiplied
// stack of layers. YUV frames are blended in YUV: the conversion is affine, so blending the
// converted colour is the same as converting the blended RGB, and pixels no layer covers keep
// their exact bytes. Each chroma sample takes the mean of its pixels' blends.
//
// One invocation owns whole 32-bit words of the frame, so no two write the same word: a block
// of 1x1 pixels for 4-byte formats, 4x1 for RGB/BGR/GRAY8, 2x1 for YUY2, 4x2 for NV12, 8x2 for
// I420. The compositor's layout pads every row to its block (engine/compositor.c).
// engine/ref.c (heed_ref_composite) is the same arithmetic in C.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;

// restrict: no binding aliases another, so reads need not be repeated after each frame write
#ifdef PAIRS
// The PAIRS variant (lavapipe with shaderInt64; 4-byte formats and I420): the frame as 64-bit
// words, an invocation owning twice the pixels (a block of 2x1 for 4-byte formats, 16x2 for
// I420). A storage-buffer load or store there is a loop over the lanes, one element each, and
// those loops were a third of the drawing's time; 64-bit words halve them.
#extension GL_ARB_gpu_shader_int64 : require
layout(std430, binding = 0) restrict buffer BufFrame { uint64_t pairs[]; };
#else
layout(std430, binding = 0) restrict buffer BufFrame { uint words[]; };
#endif
// The heat grid as a texel buffer, a texel per cell: its (value, alpha) and those of the cell to
// its right (the row's last cell repeats its own), so that a pixel reads a grid row's two cells
// in one fetch (two fetches a pixel, where there were four), and the colour
// table as a uniform buffer: a texel fetch or a uniform-buffer load with a per-lane index is one
// gather, where a storage-buffer load is a loop over the lanes on lavapipe (see gemm.comp)
layout(binding = 1) uniform samplerBuffer heat_texels;
layout(std140, binding = 2) uniform BufLut { uvec4 lut4[64]; };

layout(std430, binding = 3) restrict readonly buffer BufSprites { uint sprite_px[]; };
// The parameters as a uniform buffer (std140: whole uvec4s): every invocation reads the same
// words, which a uniform buffer serves as one load (on lavapipe a storage-buffer load is a loop
// over the lanes); HEED_COMPOSITE_PARAM_WORDS = 28 + 8 x HEED_COMPOSITOR_MAX_IMAGES (16)
layout(std140, binding = 4) uniform BufParams { uvec4 params4[(28 + 8 * 16) / 4]; };
#define params_at(i) params4[(i) >> 2u][(i) & 3u]


layout(push_constant) uniform Params {
  uint format, width, height;
  uint offset0, offset1, offset2; // plane offsets in bytes
  uint stride0, stride1, stride2; // plane strides in bytes
  uint blocks_x, blocks_y;
  // An invocation draws `strip` blocks of a row: on CPU drivers (lavapipe) every workgroup
  // has a fixed cost, and a pixel or two per invocation would make millions of them.
  uint strip;
} p;

// formats: keep in step with HeedPixelFormat
const uint RGBA = 0u, BGRA = 1u, RGBX = 2u, BGRX = 3u, XRGB = 4u, XBGR = 5u, RGB = 6u, BGR = 7u;
const uint I420 = 8u, NV12 = 9u, YUY2 = 10u, GRAY8 = 11u;

// params: keep in step with HEED_COMPOSITE_P_* (engine/heed-private.h)
const uint P_YUV = 0u, P_YUV_OFFSET = 9u, P_HEAT_ON = 12u, P_GRID_W = 13u, P_GRID_H = 14u;
const uint P_OPACITY = 15u, P_REGION = 16u, P_N_SPRITES = 20u, P_BOUNDS = 24u, P_SPRITES = 28u;

float param_f(uint i)
{
  return uintBitsToFloat(params_at(i));
}

// the parameters every pixel needs, read once per invocation
bool heat_on;
uint sprites_here; // the images that meet this invocation's strip, a bit each
uint grid_w, grid_h, n_sprites;
float opacity;
vec4 region;
mat3 to_yuv; // to_yuv[0], [1], [2]: the rows giving Y, U and V
vec3 yuv_offset;

void load_params()
{
  heat_on = params_at(P_HEAT_ON) != 0u;
  grid_w = params_at(P_GRID_W);
  grid_h = params_at(P_GRID_H);
  n_sprites = params_at(P_N_SPRITES);
  opacity = param_f(P_OPACITY);
  region = vec4(param_f(P_REGION), param_f(P_REGION + 1u), param_f(P_REGION + 2u),
                param_f(P_REGION + 3u));
  for (uint r = 0u; r < 3u; r++)
    to_yuv[r] = vec3(param_f(P_YUV + 3u * r), param_f(P_YUV + 3u * r + 1u),
                     param_f(P_YUV + 3u * r + 2u));
  yuv_offset = vec3(param_f(P_YUV_OFFSET), param_f(P_YUV_OFFSET + 1u), param_f(P_YUV_OFFSET + 2u));
}

uint byte_of(uint w, uint i)
{
  return (w >> (8u * i)) & 0xffu;
}

uint with_byte(uint w, uint i, uint v)
{
  return bitfieldInsert(w, v, int(8u * i), 8);
}

uint to_code(float v)
{
  return uint(clamp(floor(v + 0.5), 0.0, 255.0));
}

// Where pixel column x (row y) falls on the heat grid: u = cell + fraction, clamped to the grid
float heat_u(uint x)
{
  return clamp(((float(x) + 0.5) - region.x) / region.z * float(grid_w) - 0.5, 0.0,
               float(grid_w - 1u));
}

float heat_v(uint y)
{
  return clamp(((float(y) + 0.5) - region.y) / region.w * float(grid_h) - 0.5, 0.0,
               float(grid_h - 1u));
}

bool in_heat_region(uint x, uint y)
{
  const float fx = float(x) + 0.5, fy = float(y) + 0.5;
  return fx >= region.x && fx < region.x + region.z && fy >= region.y && fy < region.y + region.w;
}

// The heatmap's premultiplied colour and coverage from a pixel's grid cell in rows y0 and y1
// (top, bottom: each the cell's (value, alpha) and its right neighbour's) and its place in it
vec4 heat_colour(vec4 top, vec4 bottom, float tx, float ty)
{
  const vec2 h = mix(mix(top.xy, top.zw, tx), mix(bottom.xy, bottom.zw, tx), ty);
  const float value = h.x, alpha = h.y;
  const uint code = to_code(clamp(value, 0.0, 1.0) * 255.0);
  const uint entry = lut4[code >> 2u][code & 3u];
  const float a = alpha * opacity;
  return vec4(vec3(float(entry & 0xffu), float((entry >> 8) & 0xffu), float((entry >> 16) & 0xffu)) * a, a);
}

// The images over the layers below them (l: premultiplied colour and coverage) at pixel (x, y)
vec4 images_over(vec4 l, uint x, uint y)
{
  vec3 c = l.xyz;
  float a = l.w;
  // only the images that meet the strip, in order (the lowest bit first)
  for (uint m = sprites_here; m != 0u; m &= m - 1u) {
    const uint s = uint(findLSB(m));
    const uint b = P_SPRITES + 8u * s;
    const int sx = int(params_at(b)), sy = int(params_at(b + 1u));
    const int sw = int(params_at(b + 2u)), sh = int(params_at(b + 3u));
    const int dx = int(x) - sx, dy = int(y) - sy;
    if (dx < 0 || dy < 0 || dx >= sw || dy >= sh)
      continue;
    // cairo's ARGB32: premultiplied, 0xAARRGGBB in a native-endian word
    const uint w = sprite_px[params_at(b + 4u) + uint(dy * sw + dx)];
    const float sa = float(w >> 24) / 255.0;
    c = vec3(float((w >> 16) & 0xffu), float((w >> 8) & 0xffu), float(w & 0xffu)) + (1.0 - sa) * c;
    a = sa + (1.0 - sa) * a;
  }
  return vec4(c, a);
}

// A pixel row's two grid rows (y0, y1, and ty: where the row lies between them), and the cells
// read ahead for a run of pixels in grid columns c and c + 1 (see DRAW_ROW): cells c and c + 1
// of grid rows y0 (top0, top1) and y1 (bottom0, bottom1)
struct HeatCells {
  uint y0, y1, c;
  float ty;
  vec4 top0, top1, bottom0, bottom1;
};
const HeatCells NO_CELLS = HeatCells(0u, 0u, 0u, 0.0, vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));

HeatCells heat_row(uint y)
{
  const float v = heat_v(y);
  const uint y0 = uint(v);
  return HeatCells(y0, min(y0 + 1u, grid_h - 1u), 0u, v - float(y0), vec4(0.0), vec4(0.0),
                   vec4(0.0), vec4(0.0));
}

// The layers at pixel (x, y): premultiplied colour (0..255) in xyz, coverage in w.
vec4 layers_at(uint x, uint y)
{
  vec4 l = vec4(0.0);
  if (heat_on && in_heat_region(x, y)) {
    const HeatCells r = heat_row(y);
    const float u = heat_u(x);
    const uint x0 = uint(u);
    const vec4 top = texelFetch(heat_texels, int(r.y0 * grid_w + x0));    // cells x0, x1 of row y0
    const vec4 bottom = texelFetch(heat_texels, int(r.y1 * grid_w + x0)); // and of row y1
    l = heat_colour(top, bottom, u - float(x0), r.ty);
  }
  return images_over(l, x, y);
}

void heat_read_cells(inout HeatCells h, uint c)
{
  const uint c1 = min(c + 1u, grid_w - 1u);
  h.c = c;
  h.top0 = texelFetch(heat_texels, int(h.y0 * grid_w + c));
  h.top1 = texelFetch(heat_texels, int(h.y0 * grid_w + c1));
  h.bottom0 = texelFetch(heat_texels, int(h.y1 * grid_w + c));
  h.bottom1 = texelFetch(heat_texels, int(h.y1 * grid_w + c1));
}

// layers_at with the heat grid's cells already read: pixel x lies in cell h.c or the next
vec4 layers_at_cells(uint x, uint y, HeatCells h)
{
  vec4 l = vec4(0.0);
  if (in_heat_region(x, y)) {
    const float u = heat_u(x);
    const uint x0 = uint(u);
    const bool next = x0 != h.c;
    l = heat_colour(next ? h.top1 : h.top0, next ? h.bottom1 : h.bottom0, u - float(x0), h.ty);
  }
  return images_over(l, x, y);
}

// The draw functions take `cells` as a constant, so each call compiles to one of the two
vec4 layers(uint x, uint y, HeatCells h, bool cells)
{
  if (cells)
    return layers_at_cells(x, y, h);
  return layers_at(x, y);
}

// YUV code values of a premultiplied colour with coverage a (the affine offset scales with a)
vec3 yuv_of(vec4 l)
{
  return vec3(dot(to_yuv[0], l.xyz), dot(to_yuv[1], l.xyz), dot(to_yuv[2], l.xyz)) +
         yuv_offset * l.w;
}

uint blend(uint orig, float a, float add)
{
  return to_code(float(orig) * (1.0 - a) + add);
}

// Blends three channels of a word at byte indices ir, ig, ib.
uint blend_rgb(uint w, uint ir, uint ig, uint ib, vec4 l)
{
  if (l.w == 0.0)
    return w;
  w = with_byte(w, ir, blend(byte_of(w, ir), l.w, l.x));
  w = with_byte(w, ig, blend(byte_of(w, ig), l.w, l.y));
  return with_byte(w, ib, blend(byte_of(w, ib), l.w, l.z));
}

float gray_of(vec4 l)
{
  return dot(vec3(0.299, 0.587, 0.114), l.xyz);
}

#ifdef PAIRS
// two 4-byte pixels, 2 bx and 2 bx + 1 (past the width: the row's padding, left as it is);
// idx: the bytes of red, green and blue
void draw_rgbx(uint bx, uint y, uvec3 idx, HeatCells h, bool cells)
{
  const uint x = 2u * bx;
  const vec4 l0 = layers(x, y, h, cells);
  const vec4 l1 = x + 1u < p.width ? layers(x + 1u, y, h, cells) : vec4(0.0);
  if (l0.w == 0.0 && l1.w == 0.0)
    return;
  const uint at = (p.offset0 + y * p.stride0) / 8u + bx;
  const uvec2 w = unpackUint2x32(pairs[at]);
  pairs[at] = packUint2x32(uvec2(blend_rgb(w.x, idx.x, idx.y, idx.z, l0),
                                 blend_rgb(w.y, idx.x, idx.y, idx.z, l1)));
}
#else
// 4-byte pixels; idx: the bytes of red, green and blue
void draw_rgbx(uint x, uint y, uvec3 idx, HeatCells h, bool cells)
{
  const vec4 l = layers(x, y, h, cells);
  if (l.w == 0.0)
    return;
  const uint at = (p.offset0 + y * p.stride0) / 4u + x;
  words[at] = blend_rgb(words[at], idx.x, idx.y, idx.z, l);
}

// RGB, BGR: 4 pixels in 3 words (loops unrolled, so w[] stays in registers)
void draw_rgb(uint bx, uint y, HeatCells h, bool cells)
{
  const uint f = p.format;
  const uint at = (p.offset0 + y * p.stride0) / 4u + 3u * bx;
  uint w[3] = uint[3](words[at], words[at + 1u], words[at + 2u]);
  bool any = false;
  [[unroll]] for (uint k = 0u; k < 4u; k++) {
    const uint x = 4u * bx + k;
    const vec4 l = x < p.width ? layers(x, y, h, cells) : vec4(0.0);
    if (l.w == 0.0)
      continue;
    any = true;
    const vec3 add = f == RGB ? l.xyz : l.zyx;
    [[unroll]] for (uint ch = 0u; ch < 3u; ch++) {
      const uint byte = 3u * k + ch;
      const uint wi = byte / 4u, bi = byte % 4u;
      w[wi] = with_byte(w[wi], bi, blend(byte_of(w[wi], bi), l.w, add[ch]));
    }
  }
  if (any) {
    words[at] = w[0];
    words[at + 1u] = w[1];
    words[at + 2u] = w[2];
  }
}

void draw_gray(uint bx, uint y, HeatCells h, bool cells)
{
  const uint at = (p.offset0 + y * p.stride0) / 4u + bx;
  uint w = words[at];
  bool any = false;
  [[unroll]] for (uint k = 0u; k < 4u; k++) {
    const uint x = 4u * bx + k;
    const vec4 l = x < p.width ? layers(x, y, h, cells) : vec4(0.0);
    if (l.w != 0.0) {
      w = with_byte(w, k, blend(byte_of(w, k), l.w, gray_of(l)));
      any = true;
    }
  }
  if (any)
    words[at] = w;
}

void draw_yuy2(uint bx, uint y, HeatCells h, bool cells) // Y0 U Y1 V
{
  const uint at = (p.offset0 + y * p.stride0) / 4u + bx;
  const bool two = 2u * bx + 1u < p.width;
  const vec4 l0 = layers(2u * bx, y, h, cells);
  const vec4 l1 = two ? layers(2u * bx + 1u, y, h, cells) : vec4(0.0);
  if (l0.w == 0.0 && l1.w == 0.0)
    return;
  uint w = words[at];
  const float n = two ? 2.0 : 1.0;
  const vec3 c0 = yuv_of(l0), c1 = yuv_of(l1);
  if (l0.w != 0.0)
    w = with_byte(w, 0u, blend(byte_of(w, 0u), l0.w, c0.x));
  if (l1.w != 0.0)
    w = with_byte(w, 2u, blend(byte_of(w, 2u), l1.w, c1.x));
  const float ca = (l0.w + l1.w) / n;
  w = with_byte(w, 1u, blend(byte_of(w, 1u), ca, (c0.y + c1.y) / n));
  w = with_byte(w, 3u, blend(byte_of(w, 3u), ca, (c0.z + c1.z) / n));
  words[at] = w;
}

#endif // PAIRS

// One chroma sample of 4:2:0: pixels x, x + 1 of rows y0 (luma bytes `byte`, `byte` + 1 of
// top) and y0 + 1 (of bottom). Blends their luma and returns the sample's mean U and V
// additions and mean coverage.
vec3 blend_quad(inout uint top, inout uint bottom, uint byte, uint x, uint y0, bool has_bottom,
                HeatCells ht, HeatCells hb, bool cells)
{
  vec3 sum = vec3(0.0);
  float count = 0.0;
  [[unroll]] for (uint dx = 0u; dx < 2u; dx++) {
    if (x + dx >= p.width)
      continue;
    const vec4 lt = layers(x + dx, y0, ht, cells);
    const vec3 ct = yuv_of(lt);
    if (lt.w != 0.0)
      top = with_byte(top, byte + dx, blend(byte_of(top, byte + dx), lt.w, ct.x));
    sum += vec3(ct.yz, lt.w);
    count += 1.0;
    if (has_bottom) {
      const vec4 lb = layers(x + dx, y0 + 1u, hb, cells);
      const vec3 cb = yuv_of(lb);
      if (lb.w != 0.0)
        bottom = with_byte(bottom, byte + dx, blend(byte_of(bottom, byte + dx), lb.w, cb.x));
      sum += vec3(cb.yz, lb.w);
      count += 1.0;
    }
  }
  return count > 0.0 ? sum / count : vec3(0.0);
}

uint blend_chroma(uint w, uint byte, float cover, float add)
{
  return with_byte(w, byte, blend(byte_of(w, byte), cover, add));
}

#ifdef PAIRS
// 16x2 pixels: two luma words in each row, one U, one V word. Each 8x2 half is the 8x2 block of
// the variant with 32-bit words, so the blends are the same.
void draw_i420(uint bx, uint by, HeatCells ht, HeatCells hb, bool cells)
{
  const uint y0 = 2u * by;
  const bool has_bottom = y0 + 1u < p.height;
  const uint at_top = (p.offset0 + y0 * p.stride0) / 8u + 2u * bx;
  const uint at_bottom = at_top + p.stride0 / 8u;
  const uvec2 t01 = unpackUint2x32(pairs[at_top]), t23 = unpackUint2x32(pairs[at_top + 1u]);
  const uvec2 b01 = has_bottom ? unpackUint2x32(pairs[at_bottom]) : uvec2(0u);
  const uvec2 b23 = has_bottom ? unpackUint2x32(pairs[at_bottom + 1u]) : uvec2(0u);
  uint t[4] = uint[4](t01.x, t01.y, t23.x, t23.y), b[4] = uint[4](b01.x, b01.y, b23.x, b23.y);
  vec3 c[8];
  bool any = false;
  [[unroll]] for (uint q = 0u; q < 8u; q++) {
    c[q] = blend_quad(t[q / 2u], b[q / 2u], 2u * (q % 2u), 16u * bx + 2u * q, y0, has_bottom, ht, hb, cells);
    any = any || c[q].z != 0.0;
  }
  if (!any)
    return; // nothing covers these pixels
  pairs[at_top] = packUint2x32(uvec2(t[0], t[1]));
  pairs[at_top + 1u] = packUint2x32(uvec2(t[2], t[3]));
  if (has_bottom) {
    pairs[at_bottom] = packUint2x32(uvec2(b[0], b[1]));
    pairs[at_bottom + 1u] = packUint2x32(uvec2(b[2], b[3]));
  }
  const uint at_u = (p.offset1 + by * p.stride1) / 8u + bx;
  const uint at_v = (p.offset2 + by * p.stride2) / 8u + bx;
  const uvec2 u = unpackUint2x32(pairs[at_u]), v = unpackUint2x32(pairs[at_v]);
  uint uw[2] = uint[2](u.x, u.y), vw[2] = uint[2](v.x, v.y);
  [[unroll]] for (uint q = 0u; q < 8u; q++) {
    uw[q / 4u] = blend_chroma(uw[q / 4u], q % 4u, c[q].z, c[q].x);
    vw[q / 4u] = blend_chroma(vw[q / 4u], q % 4u, c[q].z, c[q].y);
  }
  pairs[at_u] = packUint2x32(uvec2(uw[0], uw[1]));
  pairs[at_v] = packUint2x32(uvec2(vw[0], vw[1]));
}
#else
void draw_nv12(uint bx, uint by, HeatCells ht, HeatCells hb, bool cells) // 4x2 pixels: a luma word in each row, one UV word
{
  const uint y0 = 2u * by;
  const bool has_bottom = y0 + 1u < p.height;
  const uint at_top = (p.offset0 + y0 * p.stride0) / 4u + bx, at_bottom = at_top + p.stride0 / 4u;
  uint top = words[at_top], bottom = has_bottom ? words[at_bottom] : 0u;
  const vec3 c0 = blend_quad(top, bottom, 0u, 4u * bx, y0, has_bottom, ht, hb, cells);
  const vec3 c1 = blend_quad(top, bottom, 2u, 4u * bx + 2u, y0, has_bottom, ht, hb, cells);
  if (c0.z == 0.0 && c1.z == 0.0)
    return; // nothing covers these pixels
  words[at_top] = top;
  if (has_bottom)
    words[at_bottom] = bottom;
  const uint at = (p.offset1 + by * p.stride1) / 4u + bx;
  uint w = words[at];
  w = blend_chroma(blend_chroma(w, 0u, c0.z, c0.x), 1u, c0.z, c0.y);
  w = blend_chroma(blend_chroma(w, 2u, c1.z, c1.x), 3u, c1.z, c1.y);
  words[at] = w;
}

void draw_i420(uint bx, uint by, HeatCells ht, HeatCells hb, bool cells) // 8x2 pixels: two luma words in each row, one U, one V word
{
  const uint y0 = 2u * by;
  const bool has_bottom = y0 + 1u < p.height;
  const uint at_top = (p.offset0 + y0 * p.stride0) / 4u + 2u * bx;
  const uint at_bottom = at_top + p.stride0 / 4u;
  uint t0 = words[at_top], t1 = words[at_top + 1u];
  uint b0 = has_bottom ? words[at_bottom] : 0u, b1 = has_bottom ? words[at_bottom + 1u] : 0u;
  const uint x = 8u * bx;
  const vec3 c0 = blend_quad(t0, b0, 0u, x, y0, has_bottom, ht, hb, cells);
  const vec3 c1 = blend_quad(t0, b0, 2u, x + 2u, y0, has_bottom, ht, hb, cells);
  const vec3 c2 = blend_quad(t1, b1, 0u, x + 4u, y0, has_bottom, ht, hb, cells);
  const vec3 c3 = blend_quad(t1, b1, 2u, x + 6u, y0, has_bottom, ht, hb, cells);
  if (c0.z == 0.0 && c1.z == 0.0 && c2.z == 0.0 && c3.z == 0.0)
    return; // nothing covers these pixels
  words[at_top] = t0;
  words[at_top + 1u] = t1;
  if (has_bottom) {
    words[at_bottom] = b0;
    words[at_bottom + 1u] = b1;
  }
  const uint at_u = (p.offset1 + by * p.stride1) / 4u + bx;
  const uint at_v = (p.offset2 + by * p.stride2) / 4u + bx;
  uint u = words[at_u], v = words[at_v];
  u = blend_chroma(blend_chroma(u, 0u, c0.z, c0.x), 1u, c1.z, c1.x);
  u = blend_chroma(blend_chroma(u, 2u, c2.z, c2.x), 3u, c3.z, c3.x);
  v = blend_chroma(blend_chroma(v, 0u, c0.z, c0.y), 1u, c1.z, c1.y);
  v = blend_chroma(blend_chroma(v, 2u, c2.z, c2.y), 3u, c3.z, c3.y);
  words[at_u] = u;
  words[at_v] = v;
}

#endif // PAIRS

// Whether a rectangle of the frame (x, y, width, height) meets the strip (x0, y0, x1, y1:
// columns x0 .. x1 and rows y0 .. y1, the ends excluded).
bool strip_meets(vec4 strip, float x, float y, float w, float h)
{
  return strip.z > x && strip.x < x + w && strip.w > y && strip.y < y + h;
}

void main()
{
  const uint strips_x = (p.blocks_x + p.strip - 1u) / p.strip;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= strips_x * p.blocks_y)
    return;
  // consecutive invocations (the lanes of a SIMD row on lavapipe) take the same columns of
  // consecutive block rows: see `runs` below. (On a GPU neither this nor strips side by side
  // lets neighbouring invocations touch neighbouring words; one block an invocation along the
  // rows would, and is unmeasured for want of a GPU.)
  const uint by = gid % p.blocks_y, bx0 = (gid / p.blocks_y) * p.strip;
  const uint bx1 = min(bx0 + p.strip, p.blocks_x);
  // strips entirely outside what the layers may cover have nothing to draw
  const uint f = p.format;
#ifdef PAIRS
  const uint bw = f == I420 ? 16u : 2u;
#else
  const uint bw = f <= XBGR ? 1u : f == YUY2 ? 2u : f == I420 ? 8u : 4u;
#endif
  const uint bh = f == NV12 || f == I420 ? 2u : 1u;
  if (bx1 * bw <= params_at(P_BOUNDS) || bx0 * bw >= params_at(P_BOUNDS + 2u) ||
      (by + 1u) * bh <= params_at(P_BOUNDS + 1u) || by * bh >= params_at(P_BOUNDS + 3u))
    return;
  load_params();
  // which images meet this strip (rows by * bh .. + bh, columns bx0 * bw .. bx1 * bw)
  const vec4 strip = vec4(float(bx0 * bw), float(by * bh), float(bx1 * bw), float((by + 1u) * bh));
  sprites_here = 0u;
  for (uint s = 0u; s < n_sprites; s++) {
    const uint b = P_SPRITES + 8u * s;
    // integer positions and sizes, far below 2^24: exact as floats
    if (strip_meets(strip, float(int(params_at(b))), float(int(params_at(b + 1u))),
                    float(int(params_at(b + 2u))), float(int(params_at(b + 3u)))))
      sprites_here |= 1u << s;
  }
  // A strip that no layer meets has nothing to draw. The bounds above are one box around all
  // the layers (a label box at the top and the keyframe timeline at the bottom make it the
  // whole frame), and on lavapipe an `if` inside the loops below runs both ways under a mask:
  // only a return here, with every lane of the SIMD row, skips the strip's work.
  const bool heat_here = heat_on && strip_meets(strip, region.x, region.y, region.z, region.w);
  if (!heat_here && sprites_here == 0u)
    return;
  // Under the heatmap, with grid cells a block wide or more (so that a block's pixels lie in
  // one cell or the next), the blocks are drawn in runs that lie in one grid column, each run
  // reading the grid's texels once, where layers_at reads two a pixel (a sixth of the drawing's
  // time on lavapipe). The lanes of a SIMD row draw the same columns of consecutive rows (see
  // gid above), so they start each run together.
  const bool runs = heat_here && region.z >= float(grid_w * bw);
  const uint y_top = by * bh, y_bottom = min(y_top + 1u, p.height - 1u);
#define DRAW_ROW(DRAW, TWO_ROWS)                                                                   \
  if (runs) {                                                                                      \
    HeatCells ht = heat_row(y_top), hb = TWO_ROWS ? heat_row(y_bottom) : NO_CELLS;                 \
    for (uint bx = bx0; bx < bx1;) {                                                               \
      const uint c = uint(heat_u(bw * bx));                                                        \
      heat_read_cells(ht, c);                                                                      \
      if (TWO_ROWS)                                                                                \
        heat_read_cells(hb, c);                                                                    \
      for (; bx < bx1 && uint(heat_u(bw * bx)) == c; bx++)                                         \
        DRAW(bx, ht, hb, true);                                                                    \
    }                                                                                              \
  } else {                                                                                         \
    for (uint bx = bx0; bx < bx1; bx++)                                                            \
      DRAW(bx, NO_CELLS, NO_CELLS, false);                                                         \
  }
  // one loop per format family, so each compiles to straight code without private arrays
  // (which CPU drivers keep in memory: several times slower)
  if (f <= XBGR) {
    const uvec3 idx = f == RGBA || f == RGBX ? uvec3(0u, 1u, 2u)
                      : f == BGRA || f == BGRX ? uvec3(2u, 1u, 0u)
                      : f == XRGB ? uvec3(1u, 2u, 3u) : uvec3(3u, 2u, 1u);
#define DRAW_RGBX(bx, ht, hb, cells) draw_rgbx(bx, by, idx, ht, cells)
    DRAW_ROW(DRAW_RGBX, false)
  }
#define DRAW_TWO_ROWS(bx, ht, hb, cells) draw_i420(bx, by, ht, hb, cells)
#ifdef PAIRS
  else {
    DRAW_ROW(DRAW_TWO_ROWS, true)
  }
#else
#define DRAW_RGB(bx, ht, hb, cells) draw_rgb(bx, by, ht, cells)
#define DRAW_GRAY(bx, ht, hb, cells) draw_gray(bx, by, ht, cells)
#define DRAW_YUY2(bx, ht, hb, cells) draw_yuy2(bx, by, ht, cells)
#define DRAW_NV12(bx, ht, hb, cells) draw_nv12(bx, by, ht, hb, cells)
  else if (f <= BGR) {
    DRAW_ROW(DRAW_RGB, false)
  } else if (f == GRAY8) {
    DRAW_ROW(DRAW_GRAY, false)
  } else if (f == YUY2) {
    DRAW_ROW(DRAW_YUY2, false)
  } else if (f == NV12) {
    DRAW_ROW(DRAW_NV12, true)
  } else {
    DRAW_ROW(DRAW_TWO_ROWS, true)
  }
#endif
}
