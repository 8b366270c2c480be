#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// A rotary position embedding, in place on the queries and keys of qkv's rows (each row q|k|v,
// dim floats apart, ld apart; `tokens` rows a frame, the first `prefix` of them left as they
// are). Each pair of channels (2j, 2j + 1) of a head of a patch's query and key turns by that
// head's angle for the patch's pair j: table[table_off + (head * patches + patch) * head_pairs
// + j] holds its (cos, sin) (heed_rope_table). count is frames x patches x dim: a pair of the
// query's or of the key's an invocation.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer BufX { float x[]; };
layout(std430, binding = 1) readonly buffer BufTable { vec2 table[]; };

layout(push_constant) uniform Params {
  uint tokens, prefix, dim, head_pairs, ld, off, count, table_off;
} p;

void main()
{
  // a stride over the dispatch, which may be smaller than count (its width is capped by the
  // device's largest workgroup count)
  const uint patches = p.tokens - p.prefix, half_dim = p.dim / 2;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint gid = gl_GlobalInvocationID.x; gid < p.count; gid += stride) {
    const uint row = gid / p.dim, c = gid % p.dim;
    const uint frame = row / patches, patch_index = row % patches;
    const uint part = c / half_dim, pair = c % half_dim; // the query's (0) or key's (1) pair
    const uint at = p.off + (frame * p.tokens + p.prefix + patch_index) * p.ld + part * p.dim + 2 * pair;
    const uint head = pair / p.head_pairs;
    const vec2 cs = table[p.table_off + (head * patches + patch_index) * p.head_pairs +
                          pair % p.head_pairs];
    // each invocation reads and writes its own pair: no other touches it
    const float a = x[at], b = x[at + 1];
    x[at] = a * cs.x - b * cs.y;
    x[at + 1] = b * cs.x + a * cs.y;
  }
}
