#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Multi-head attention in one dispatch, for lavapipe, where the probabilities are not an output:
//   O = softmax(Q K^T * scale) V
// for TM query rows of one head per workgroup, with the scores never written out. The keys are
// taken 4 x SGS at a time (four per lane) with an online softmax: each row keeps its running
// maximum and sum of exponentials, and the output is rescaled whenever the maximum grows. That
// saves Q.K^T's store of the scores, P.V's two passes over them (its maximum and sum, then the
// product) and a dispatch (on lavapipe about a quarter of a millisecond each).
//
// A workgroup is one subgroup of SGS lanes, as in gemm.comp's shuffle variants. Lane l fetches
// the query rows l, l + SGS, ... and the rows reach every lane by shuffles; each lane owns four
// keys of the block for the scores, and NG groups of four output columns (dh up to 4 x SGS x NG)
// for the product, the probabilities reaching every lane by shuffles too. Q, K and V are read in
// place from the QKV projection's rows as texels (a texel fetch is one gather on lavapipe, a
// storage-buffer load a loop over the lanes).
//
// Rows and keys past M are read as padding (the QKV buffer holds rows past a frame's M: zeros,
// or a batch's next frame): a key past M gets probability exactly 0, so whatever finite V row
// is there adds nothing, and rows past M are not stored.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require

#define TM 16
#define NG (64 / (4 * SGS))

layout(local_size_x_id = 0) in; // SGS: the subgroup size
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { float o[]; };

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's queries and keys
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 64
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
  uint windows, bias_rows, bias_ld; // attention_bias.comp's; unused here
} p;

#include "attention_body.glsl"
