#version 450
// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta.
// One invocation per row, two passes (mean, then variance of the centred values) so the
// variance does not suffer the cancellation of the E[x^2] - mean^2 form.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, binding = 1) writeonly buffer BufY { float y[]; };
layout(std430, binding = 2) readonly buffer BufGamma { float gamma[]; };
layout(std430, binding = 3) readonly buffer BufBeta { float beta[]; };

layout(push_constant) uniform Params {
  uint M, D;
  uint ldx, ldy;
  uint x_off, y_off;
  float eps;
} p;

void main()
{
  const uint row = gl_GlobalInvocationID.x;
  if (row >= p.M)
    return;
  const uint xr = p.x_off + row * p.ldx;
  const uint yr = p.y_off + row * p.ldy;

  float sum = 0.0;
  for (uint i = 0; i < p.D; i++)
    sum += x[xr + i];
  const float mean = sum / float(p.D);
  float sq = 0.0;
  for (uint i = 0; i < p.D; i++) {
    const float d = x[xr + i] - mean;
    sq += d * d;
  }
  const float rstd = 1.0 / sqrt(sq / float(p.D) + p.eps);
  for (uint i = 0; i < p.D; i++)
    y[yr + i] = (x[xr + i] - mean) * rstd * gamma[i] + beta[i];
}
