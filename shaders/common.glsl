// SPDX-License-Identifier: LGPL-2.1-or-later
// Shared helpers for heed's compute shaders.
#ifndef HEED_COMMON_GLSL
#define HEED_COMMON_GLSL

// erfc with fractional error below 1.2e-7 (Chebyshev fit, Numerical Recipes 6.2). GLSL has no
// erf, and the models use exact GELU, so the tanh approximation would miss PyTorch's numbers.
float heed_erfc(float x)
{
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? r : 2.0 - r;
}

// QuickGELU, OpenAI CLIP's approximation: x * sigmoid(1.702 x)
float heed_quick_gelu(float x)
{
  return x / (1.0 + exp(-1.702 * x));
}

// GELU(x) = x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2))
float heed_gelu(float x)
{
  return 0.5 * x * heed_erfc(-x * 0.70710678118654752);
}

// GELU's tanh approximation, which SigLIP and some timm models were trained with (PyTorch's
// approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh as
// 1 - 2 / (exp(2u) + 1), which saturates to +-1 where exp overflows instead of giving NaN
float heed_gelu_tanh(float x)
{
  float u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
  return 0.5 * x * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
}

#endif
