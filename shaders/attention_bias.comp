#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// attention.comp adding a bias to the scaled scores (BEiT's relative position bias; Swin's, with
// a shifted window's mask) before the online softmax: the same body (attention_body.glsl), a
// third binding and three more push constants.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require

#define TM 16
#define NG (64 / (4 * SGS))

layout(local_size_x_id = 0) in; // SGS: the subgroup size
layout(binding = 0) uniform samplerBuffer qkv_texels;
layout(std430, binding = 1) writeonly buffer BufOut { float o[]; };
// a bias added to the scaled scores, [windows][heads][bias_rows][bias_ld] floats read as texels
// of four (BEiT's relative position bias; Swin's, with a shifted window's mask): frame z's is
// window z % windows's (a batch's frames each a multiple of the windows)
layout(binding = 2) uniform samplerBuffer bias_texels;

layout(push_constant) uniform Params {
  uint M;       // tokens: the frame's queries and keys
  uint D;       // the model's width: a QKV row holds Q, K and V from columns 0, D and 2 D
  uint dh;      // a head's width: a multiple of 4, at most 64
  uint ld;      // QKV's row stride (3 D, a multiple of 4)
  uint qkv_off; // the first frame's first QKV element (a multiple of 4)
  uint out_off; // the first frame's first output element
  uint out_ld;  // the output's row stride (D): head h writes columns h dh ..
  float scale;  // 1 / sqrt(dh)
  uint windows, bias_rows, bias_ld;
} p;

#define BIAS 1
#include "attention_body.glsl"
