#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// One pass from a raw video frame to the ViT's input: colour conversion (packed RGB, planar and
// packed YUV, gray), resize (antialiased when shrinking), crop/letterbox, normalisation. One
// invocation per output pixel; writes float32 NCHW [3][size][size].
//
// Resampling, per axis: when a destination pixel covers more than one source pixel (step > 1),
// the average of n = min(ceil(step), 8) source pixels spread evenly over its footprint (a box
// filter, point-sampled); otherwise linear interpolation between the two nearest pixels.
// engine/ref.c (heed_ref_preprocess) is the same arithmetic in C.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufFrame { uint words[]; };
layout(std430, binding = 1) readonly buffer BufParams { float params[]; };
layout(std430, binding = 2) writeonly buffer BufOut { float outp[]; };

layout(push_constant) uniform Params {
  uint format, width, height;
  uint offset0, offset1, offset2; // plane offsets in bytes
  uint stride0, stride1, stride2; // plane strides in bytes
  uint size;                      // output is size x size
  float src_x, src_y, src_w, src_h;
  float dst_x, dst_y, dst_w, dst_h;
} p;

// formats: keep in step with HeedPixelFormat
const uint RGBA = 0u, BGRA = 1u, RGBX = 2u, BGRX = 3u, XRGB = 4u, XBGR = 5u, RGB = 6u, BGR = 7u;
const uint I420 = 8u, NV12 = 9u, YUY2 = 10u, GRAY8 = 11u;

uint byte_at(uint off)
{
  return (words[off >> 2] >> ((off & 3u) * 8u)) & 0xffu;
}

// params: [0..2] 1/std, [3..5] -mean/std, [6..14] YUV->RGB matrix (row-major, on 0..255 values
// minus the offsets), [15..17] Y/U/V offsets
vec3 yuv_to_rgb(float y, float u, float v)
{
  vec3 d = vec3(y - params[15], u - params[16], v - params[17]);
  return vec3(dot(vec3(params[6], params[7], params[8]), d),
              dot(vec3(params[9], params[10], params[11]), d),
              dot(vec3(params[12], params[13], params[14]), d));
}

// RGB in 0..1 of source pixel (x, y)
vec3 fetch(uint x, uint y)
{
  const uint f = p.format;
  if (f <= XBGR) {
    const uint w = words[(p.offset0 + y * p.stride0 + x * 4u) >> 2];
    const vec4 b = vec4(float(w & 0xffu), float((w >> 8) & 0xffu), float((w >> 16) & 0xffu),
                        float(w >> 24));
    vec3 c;
    if (f == RGBA || f == RGBX)
      c = b.xyz;
    else if (f == BGRA || f == BGRX)
      c = b.zyx;
    else if (f == XRGB)
      c = b.yzw;
    else
      c = b.wzy;
    return c / 255.0;
  }
  if (f == RGB || f == BGR) {
    const uint o = p.offset0 + y * p.stride0 + x * 3u;
    const vec3 c = vec3(float(byte_at(o)), float(byte_at(o + 1u)), float(byte_at(o + 2u)));
    return (f == RGB ? c : c.zyx) / 255.0;
  }
  if (f == GRAY8)
    return vec3(float(byte_at(p.offset0 + y * p.stride0 + x)) / 255.0);
  float Y, U, V;
  if (f == YUY2) {
    const uint w = words[(p.offset0 + y * p.stride0 + (x >> 1) * 4u) >> 2];
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
  return clamp(yuv_to_rgb(Y, U, V), 0.0, 1.0);
}

// Taps of one axis for destination centre `pos` (source coordinates, pixel i spans [i, i+1)).
void taps(float pos, float step, uint limit, out uint idx[8], out float wt[8], out uint n)
{
  if (step > 1.0) {
    n = min(uint(ceil(step - 1e-4)), 8u);
    const float first = pos - 0.5 * step;
    for (uint i = 0u; i < n; i++) {
      idx[i] = uint(clamp(floor(first + (float(i) + 0.5) * step / float(n)), 0.0, float(limit - 1u)));
      wt[i] = 1.0 / float(n);
    }
  } else {
    const float c = clamp(pos - 0.5, 0.0, float(limit - 1u));
    const float i0 = floor(c);
    const float t = c - i0;
    idx[0] = uint(i0);
    idx[1] = min(uint(i0) + 1u, limit - 1u);
    wt[0] = 1.0 - t;
    wt[1] = t;
    n = 2u;
  }
}

void main()
{
  const uint gid = gl_GlobalInvocationID.x;
  const uint plane = p.size * p.size;
  if (gid >= plane)
    return;
  const uint ox = gid % p.size, oy = gid / p.size;
  const float cx = float(ox) + 0.5, cy = float(oy) + 0.5;
  vec3 rgb = vec3(0.0); // letterbox padding is black
  if (cx >= p.dst_x && cx < p.dst_x + p.dst_w && cy >= p.dst_y && cy < p.dst_y + p.dst_h) {
    const float sx = p.src_w / p.dst_w, sy = p.src_h / p.dst_h;
    uint xi[8], yi[8], nx, ny;
    float xw[8], yw[8];
    taps(p.src_x + (cx - p.dst_x) * sx, sx, p.width, xi, xw, nx);
    taps(p.src_y + (cy - p.dst_y) * sy, sy, p.height, yi, yw, ny);
    for (uint j = 0u; j < ny; j++) {
      vec3 row = vec3(0.0);
      for (uint i = 0u; i < nx; i++)
        row += xw[i] * fetch(xi[i], yi[j]);
      rgb += yw[j] * row;
    }
  }
  outp[gid] = rgb.r * params[0] + params[3];
  outp[plane + gid] = rgb.g * params[1] + params[4];
  outp[2u * plane + gid] = rgb.b * params[2] + params[5];
}
