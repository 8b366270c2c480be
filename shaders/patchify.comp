#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Cuts a normalised NCHW image into non-overlapping patch x patch squares, one row per patch
// (row-major over the patch grid), flattened in (channel, y, x) order: the order of a
// Conv2d(kernel = stride = patch) weight, so patch embedding becomes one matrix multiply.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufImage { float img[]; };
layout(std430, binding = 1) writeonly buffer BufPatches { float patches[]; };

layout(push_constant) uniform Params {
  uint channels, height, width;
  uint patch_size, grid_w, num_patches;
} p;

void main()
{
  const uint k = p.channels * p.patch_size * p.patch_size;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.num_patches * k)
    return;
  const uint r = gid / k;
  const uint col = gid % k;
  const uint c = col / (p.patch_size * p.patch_size);
  const uint ky = (col / p.patch_size) % p.patch_size;
  const uint kx = col % p.patch_size;
  const uint y = (r / p.grid_w) * p.patch_size + ky;
  const uint xx = (r % p.grid_w) * p.patch_size + kx;
  patches[gid] = img[(c * p.height + y) * p.width + xx];
}
