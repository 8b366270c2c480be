#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Cuts a normalised NCHW image into non-overlapping patch x patch squares, one row per patch
// (row-major over the patch grid), flattened in (channel, y, x) order: the order of a
// Conv2d(kernel = stride = patch) weight, so patch embedding becomes one matrix multiply.
layout(local_size_x_id = 0) in;

#ifdef VEC4
// Four pixels of a patch row at a time (patch size and width multiples of 4): the image read as
// texels and the patches written as vec4s, a quarter of the accesses (on lavapipe each
// storage-buffer access is a loop over the lanes)
layout(binding = 0) uniform samplerBuffer img4;
layout(std430, binding = 1) writeonly buffer BufPatches { vec4 patches4[]; };
#else
layout(std430, binding = 0) readonly buffer BufImage { float img[]; };
layout(std430, binding = 1) writeonly buffer BufPatches { float patches[]; };
#endif

layout(push_constant) uniform Params {
  uint channels, height, width;
  uint patch_size, grid_w, num_patches;
  uint out_off; // where the first frame's patches start: a batch's frames share the buffer
  // floats from one frame's image to the next's, and from its patches to the next's (workgroup
  // z takes frame z: a batch in one dispatch)
  uint in_stride, out_stride;
} p;

#ifdef VEC4
void main()
{
  const uint k4 = p.channels * p.patch_size * p.patch_size / 4u;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.num_patches * k4)
    return;
  const uint r = gid / k4;
  const uint col = (gid % k4) * 4u;
  const uint c = col / (p.patch_size * p.patch_size);
  const uint ky = (col / p.patch_size) % p.patch_size;
  const uint kx = col % p.patch_size;
  const uint y = (r / p.grid_w) * p.patch_size + ky;
  const uint xx = (r % p.grid_w) * p.patch_size + kx;
  const uint frame = gl_WorkGroupID.z;
  patches4[(p.out_off + frame * p.out_stride) / 4u + gid] =
      texelFetch(img4, int((frame * p.in_stride + (c * p.height + y) * p.width + xx) / 4u));
}
#else
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
  const uint frame = gl_WorkGroupID.z;
  patches[p.out_off + frame * p.out_stride + gid] =
      img[frame * p.in_stride + (c * p.height + y) * p.width + xx];
}
#endif
