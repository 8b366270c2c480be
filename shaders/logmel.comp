#version 450
// SPDX-License-Identifier: LGPL-2.1-or-later
// Log-mel spectrogram frames for heedkeyframe's sound (engine/audio.c), as VGGish computes
// them: 16 kHz mono, 25 ms (400-sample) periodic-Hann windows every 10 ms, the magnitude of a
// 512-point DFT, 64 HTK-mel bands from 125 to 7500 Hz, log(mel + 0.01). One workgroup per
// window; engine/ref.c (heed_ref_logmel) is the same arithmetic in C.
layout(local_size_x_id = 0) in;

const uint WINDOW = 400u, FFT = 512u, BINS = 257u, MELS = 64u;

layout(std430, binding = 0) readonly buffer BufSamples { float samples[]; }; // [n][WINDOW]
layout(std430, binding = 1) readonly buffer BufTables { float tables[]; };   // cos[FFT], mel[MELS][BINS]
layout(std430, binding = 2) writeonly buffer BufOut { float outp[]; };       // [n][MELS]

layout(push_constant) uniform Params {
  uint n_windows;
} p;

shared float x[WINDOW];
shared float mag[BINS];

void main()
{
  const uint w = gl_WorkGroupID.x, lane = gl_LocalInvocationID.x, lanes = gl_WorkGroupSize.x;
  if (w >= p.n_windows)
    return;
  for (uint n = lane; n < WINDOW; n += lanes) // the periodic Hann window
    x[n] = samples[w * WINDOW + n] * (0.5 - 0.5 * cos(6.28318530718 * float(n) / float(WINDOW)));
  barrier();
  for (uint k = lane; k < BINS; k += lanes) {
    float re = 0.0, im = 0.0;
    for (uint n = 0u; n < WINDOW; n++) {
      const uint i = (k * n) % FFT;
      re += x[n] * tables[i];
      im -= x[n] * tables[(i + FFT - FFT / 4u) % FFT]; // sin(a) = cos(a - pi/2)
    }
    mag[k] = sqrt(re * re + im * im);
  }
  barrier();
  for (uint m = lane; m < MELS; m += lanes) {
    float s = 0.0;
    for (uint k = 0u; k < BINS; k++)
      s += mag[k] * tables[FFT + m * BINS + k];
    outp[w * MELS + m] = log(s + 0.01);
  }
}
