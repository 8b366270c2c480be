#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// The device's arithmetic peak, for `heed bench`'s share-of-peak column: every invocation runs
// 16 x ITERATIONS steps of 12 independent multiply-add chains held in registers, reading and
// writing no memory in the loop. Twelve chains cover a CPU's multiply and add latency on two
// pipes each (lavapipe compiles each GLSL fma to a multiply and an add, as in the GEMMs) and
// still fit AVX2's 16 vector registers beside x and y; a GPU hides the latency with other
// invocations. The chains tend to 1 (x < 1), so nothing overflows; the store only happens
// when their sum is impossible, so the compiler cannot drop the work and nothing is written.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer BufOut { float sink[]; };

layout(push_constant) uniform Params {
  uint iterations;
  float x, y;
} p;

void main()
{
  // three vec4s, not a float[12]: a CPU driver may keep a private array in memory
  const float seed = float(gl_GlobalInvocationID.x % 977u) * 1e-3;
  vec4 a0 = seed + vec4(0.0, 0.1, 0.2, 0.3), a1 = a0 + 0.4, a2 = a0 + 0.8;
  const vec4 x = vec4(p.x), y = vec4(p.y);
  // 16 steps an iteration: lavapipe pays for each loop iteration's masks and branch
  for (uint it = 0; it < p.iterations; it++)
    [[unroll]] for (uint step = 0; step < 16u; step++) {
      a0 = fma(a0, x, y);
      a1 = fma(a1, x, y);
      a2 = fma(a2, x, y);
    }
  const vec4 s = a0 + a1 + a2;
  if (s.x + s.y + s.z + s.w < 0.0)
    sink[gl_LocalInvocationID.x] = s.x;
}
