// SPDX-License-Identifier: LGPL-2.1-or-later
// The bias on the scaled scores of the attention kernels that read it as floats
// (attention_flash, attention_keys, attention_tiled, attention_rows), included after their
// `bias` binding and push constants, which each declares where the shader registry reads them:
// where p.windows > 0, frame z's bias is window z % windows's [heads][bias_rows][bias_ld] block
// of the binding.

// the first float of frame `frame`'s and head `h`'s block (0 without a bias)
uint bias_block(uint frame, uint h)
{
  return p.windows > 0u ? ((frame % p.windows) * gl_NumWorkGroups.y + h) * p.bias_rows * p.bias_ld
                        : 0u;
}

// the bias for query row `row` (rows past M, never stored, read row M - 1) and key `key` < M,
// from a block at `base`
float bias_at(uint base, uint row, uint key)
{
  return bias[base + min(row, p.M - 1u) * p.bias_ld + key];
}
