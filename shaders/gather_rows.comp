#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Gathers rows, each frame's alike: out row r of a frame is `group` of the frame's input rows
// side by side,
//   out[f][r][g * width + c] = in[f][index[r * group + g]][c], or 0 where that index is ~0u
// (Swin's padding, HEED_SWIN_PAD)
// Swin's way from one block's window order to the next's (group 1), and patch merging's 2 x 2
// tokens as one row four times as wide (group 4). Four floats at a time (width a multiple of
// 4); the shader strides over what one dispatch's width cannot cover.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufIn { vec4 in4[]; };
layout(std430, binding = 1) readonly buffer BufIndex { uint index[]; };
layout(std430, binding = 2) writeonly buffer BufOut { vec4 out4[]; };

layout(push_constant) uniform Params {
  uint rows_out, rows_in; // a frame's
  uint width4;            // an input row's floats / 4
  uint group;
  uint count;             // frames x rows_out x group x width4
} p;

void main()
{
  const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint per_frame = p.rows_out * p.group;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += step) {
    const uint row = i / p.width4; // (frame, out row, g) as one
    const uint from = index[row % per_frame];
    out4[i] = from == ~0u ? vec4(0.0)
                          : in4[((row / per_frame) * p.rows_in + from) * p.width4 + i % p.width4];
  }
}
