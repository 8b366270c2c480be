#version 450
// Row softmax in place, over `rows` rows of N values. Row r is row (r % M) of batch (r / M),
// which is how the attention scores of all heads are laid out. The row maximum is subtracted
// before exp so large scores cannot overflow.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer BufS { float s[]; };

layout(push_constant) uniform Params {
  uint rows, M, N;
  uint ld, batch;
} p;

void main()
{
  const uint r = gl_GlobalInvocationID.x;
  if (r >= p.rows)
    return;
  const uint base = (r / p.M) * p.batch + (r % p.M) * p.ld;

  float mx = s[base];
  for (uint j = 1; j < p.N; j++)
    mx = max(mx, s[base + j]);
  float sum = 0.0;
  for (uint j = 0; j < p.N; j++) {
    const float e = exp(s[base + j] - mx);
    s[base + j] = e;
    sum += e;
  }
  const float inv = 1.0 / sum;
  for (uint j = 0; j < p.N; j++)
    s[base + j] *= inv;
}
