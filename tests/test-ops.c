/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every GPU op against its plain C reference (engine/ref.c), on odd sizes with a fixed seed,
 * compared by normalised error, under the validation layer. */
#include "test-common.h"

#include <string.h>

/* The kernel table the ops record with: the device's own, or a variant of it (the tests run
 * every kernel the device could be given, on the one device). */
static HeedKernels variant;
static gboolean use_variant;

static const HeedKernels *
kernels (void)
{
  return use_variant ? &variant : &get_device ()->kernels;
}

typedef struct {
  guint M, N, K, batches;
  guint epilogue;
  gboolean bias;
  float alpha;
} GemmCase;

/* The table with lavapipe's GEMMs storing C as floats where the device's store pairs (the
 * table heed gives an imported device, which may not have shaderInt64). */
static HeedKernels
float_stores (const HeedKernels *own)
{
  HeedKernels k = *own;
  k.gemm_k4.shader = heed_gemm_without_pairs (k.gemm_k4.shader);
  k.gemm_k4_bt.shader = heed_gemm_without_pairs (k.gemm_k4_bt.shader);
  k.gemm_k4_ln.shader = heed_gemm_without_pairs (k.gemm_k4_ln.shader);
  k.gemm_k4_softmax.shader = heed_gemm_without_pairs (k.gemm_k4_softmax.shader);
  return k;
}

/* The table a plan of 197-row frames (DeiT's tokens) takes: on lavapipe at 16 lanes, its
 * shuffle GEMMs' twins taking 40 rows a workgroup; FALSE where the device's table has none */
static gboolean
rows_40 (const HeedKernels *own, HeedKernels *out)
{
  *out = *own;
  heed_kernels_fit_rows (out, 197);
  return out->row_align == 40;
}

/* The register-tiled storage-buffer kernels' workgroup size: the table pads B to col_align
 * columns, lanes x TN (8) of them, and they read whole blocks of that width (a GPU's gemm is the
 * TILED kernel, whose 256 invocations would read past B's padding) */
static guint
storage_lanes (void)
{
  return get_device ()->kernels.col_align / 8;
}

/* How a case's operands are stored and multiplied: float32; B as IEEE halves (a plan's fp16
 * weights); or that with A rounded to half by the kernel as well (fp16-matmul, the table's
 * gemm_half kernels). Each against the reference on the same rounded values. */
typedef enum { OPERANDS_F32, OPERANDS_HALF_B, OPERANDS_HALF_AB } GemmOperands;

/* aligned_c: C's stride and offset multiples of 4 (the kernels storing C in pairs take those
 * where N is a multiple of 4 too); otherwise odd. */
static void
run_gemm_case (const GemmCase *t, GemmOperands operands, gboolean aligned_c)
{
  gboolean half_b = operands != OPERANDS_F32;
  HeedDevice *d = get_device ();
  GRand *rng = g_rand_new_with_seed (t->M * 7919 + t->N * 31 + t->K);
  GError *error = NULL;
  guint m_pad = heed_round_up (t->M, kernels ()->row_align);
  /* a padded stride, a multiple of 4 where K is (so the K4 kernels, lavapipe's texel ones
   * included, take those cases) */
  guint lda = t->K % 4 == 0 ? t->K + 4 : t->K + 3,
        ldb = heed_round_up (t->N, kernels ()->col_align);
  guint ldc = aligned_c ? heed_round_up (t->N, 4) + 4 : t->N + 2, c_off = aligned_c ? 8 : 5;
  gsize a_batch = (gsize) m_pad * lda, b_batch = (gsize) t->K * ldb, c_batch = (gsize) t->M * ldc;
  gsize na = a_batch * t->batches, nb = b_batch * t->batches;
  gsize nc = c_off + c_batch * t->batches;
  float *a = random_floats (rng, na, -1, 1);
  float *b = random_floats (rng, nb, -1, 1);
  float *c = random_floats (rng, nc, -1, 1);
  float *bias = random_floats (rng, t->N, -0.5, 0.5);
  float *want = g_memdup2 (c, nc * 4);
  /* the A the reference multiplies: the kernel rounds A itself in fp16-matmul, so the buffer
   * keeps float32 values (a third of them not halves' neighbours: a kernel that did not round
   * would be 1e-4 out) */
  float *a_used = g_memdup2 (a, na * 4);
  if (operands == OPERANDS_HALF_AB) {
    /* values that round to half subnormals, to zero, and up across a power of two */
    const float odd[] = { 3.1e-5f, -2.0e-8f, 1.0e-7f, 65519.0f / 65536.0f };
    for (gsize i = 0; i < G_N_ELEMENTS (odd) && i * 5 < na; i++)
      a[i * 5] = odd[i];
    for (gsize i = 0; i < na; i++)
      a_used[i] = heed_f16_to_f32 (heed_f32_to_f16 (a[i]));
  }
  if (half_b) {
    /* a few weights that are subnormal as halves, which the kernels decode exactly */
    const float tiny[] = { 3.0e-5f, -6.0e-8f, 1.2e-6f, -4.5e-5f, 0.0f, -0.0f };
    for (gsize i = 0; i < G_N_ELEMENTS (tiny) && i * 7 < nb; i++)
      b[i * 7] = tiny[i];
    for (gsize i = 0; i < nb; i++)
      b[i] = heed_f16_to_f32 (heed_f32_to_f16 (b[i]));
  }

  for (guint z = 0; z < t->batches; z++)
    heed_ref_gemm (a_used + z * a_batch, lda, b + z * b_batch, ldb, want + c_off + z * c_batch, ldc,
                   t->M, t->N, t->K, t->alpha, t->bias ? bias : NULL, t->epilogue);

  HeedBuffer *ba = buffer_from (d, a, na, 0);
  HeedBuffer *bb = half_b ? heed_buffer_new_half (d, b, nb, &error) : buffer_from (d, b, nb, 0);
  g_assert_no_error (error);
  bb->half_operands = operands == OPERANDS_HALF_AB;
  HeedBuffer *bc = buffer_from (d, c, nc, 0), *bbias = buffer_from (d, bias, t->N, 0);
  HeedRecorder *rec = heed_recorder_new (d, kernels (), 4, FALSE, &error);
  g_assert_no_error (error);
  heed_op_gemm (rec, (HeedMat){ ba, 0, lda, (guint) a_batch },
                (HeedMat){ bb, 0, ldb, (guint) b_batch },
                (HeedMat){ bc, c_off, ldc, (guint) c_batch }, t->bias ? bbias : NULL, t->M, t->N,
                t->K, t->batches, t->alpha, t->epilogue, "gemm", "test", &error);
  g_assert_no_error (error);
  run_recorder (rec);
  float *got = buffer_read (bc, nc);
  /* tensor cores sum the products of halves in float32 but not in float32's order, and not
   * rounding each addition as IEEE does: their error is reported, and bounded looser (still 20
   * times under what A left unrounded would give) */
  const HeedKernel used = kernels ()->gemm_half_k4;
  gboolean coopmat = operands == OPERANDS_HALF_AB && used.shader == HEED_SHADER_GEMM_COOPMAT;
  if (coopmat)
    g_test_message ("cooperative-matrix GEMM %ux%ux%u: normalised error %.3g", t->M, t->N, t->K,
                    normalised_error (got, want, nc, 1e-6));
  assert_close (got, want, nc, coopmat ? 5e-6 : 2e-6);
  /* nothing outside the M x N blocks moved: padding between rows keeps its old values */
  for (guint z = 0; z < t->batches; z++)
    for (guint m = 0; m < t->M; m++)
      for (guint n = t->N; n < ldc && m * ldc + n < c_batch; n++)
        g_assert_cmpfloat (got[c_off + z * c_batch + m * ldc + n], ==,
                           c[c_off + z * c_batch + m * ldc + n]);
  g_assert_cmpfloat (got[0], ==, c[0]);

  heed_recorder_destroy (&rec);
  heed_buffer_destroy (&ba), heed_buffer_destroy (&bb), heed_buffer_destroy (&bc);
  heed_buffer_destroy (&bbias);
  g_free (a), g_free (a_used), g_free (b), g_free (c), g_free (bias), g_free (want), g_free (got);
  g_rand_free (rng);
  assert_no_validation_messages ();
}

/* fp16-matmul's kernels, each as the table's gemm_half and gemm_half_k4: the device's own first
 * (cooperative matrices where heed enabled them: not on lavapipe, where spirv-val checks that
 * kernel, and gpu_checks.sh runs these tests on a GPU), then the storage-buffer register tiles
 * and the TILED kernel rounding A. Returns how many differ from the device's own. */
#define HALF_KERNELS 3
static guint
half_kernels (HeedKernel out[HALF_KERNELS][2])
{
  const HeedKernels *own = &get_device ()->kernels;
  const HeedKernel all[HALF_KERNELS][2] = {
    { own->gemm_half, own->gemm_half_k4 },
    { { HEED_SHADER_GEMM_BH_AH, storage_lanes () },
      { HEED_SHADER_GEMM_K4_BH_AH, storage_lanes () } },
    { { HEED_SHADER_GEMM_TILED_BH_AH, 256 }, { HEED_SHADER_GEMM_TILED_BH_AH, 256 } },
  };
  guint n = 0;
  for (guint i = 0; i < HALF_KERNELS; i++)
    if (i == 0 || all[i][0].shader != all[0][0].shader || all[i][1].shader != all[0][1].shader)
      out[n][0] = all[i][0], out[n++][1] = all[i][1];
  return n;
}

static void
gemm_half_cases (gconstpointer data, gboolean aligned_c)
{
  HeedKernel kinds[HALF_KERNELS][2];
  guint n = half_kernels (kinds);
  for (guint i = 0; i < n; i++) {
    variant = get_device ()->kernels;
    variant.gemm_half = kinds[i][0];
    variant.gemm_half_k4 = kinds[i][1];
    use_variant = TRUE;
    run_gemm_case (data, OPERANDS_HALF_AB, aligned_c);
    use_variant = FALSE;
  }
}

/* fp16-matmul's rounding of A, to the bit, in every gemm_half kernel the device can run: A times
 * an identity B is A rounded to half (each product exact, the other terms zeros). A holds halves,
 * the exact midpoints between neighbouring halves (ties, to even), one float step either side of
 * them, across half's whole range, subnormals included, both signs. */
static void
test_gemm_half_rounding (void)
{
  HeedDevice *d = get_device ();
  const guint M = 70, N = 16, K = 16;
  GRand *rng = g_rand_new_with_seed (61);
  GError *error = NULL;
  guint lda = K, ldb = heed_round_up (N, d->kernels.col_align), ldc = N;
  guint m_pad = heed_round_up (M, d->kernels.row_align);
  float *a = g_new0 (float, (gsize) m_pad *lda), *want = g_new0 (float, (gsize) M *ldc);
  float *b = g_new0 (float, (gsize) K *ldb);
  for (guint k = 0; k < K; k++)
    b[(gsize) k * ldb + k] = 1.0f;
  for (guint i = 0; i < M * K; i++) {
    uint16_t h = (uint16_t) g_rand_int_range (rng, 0, 0x7bff); /* below the largest half */
    float lo = heed_f16_to_f32 (h), hi = heed_f16_to_f32 (h + 1), v = lo;
    guint32 bits;
    switch (i % 4) {
    case 1: v = (lo + hi) / 2; break; /* a tie: exact in float */
    case 2:
    case 3:
      v = (lo + hi) / 2;
      memcpy (&bits, &v, 4);
      bits += i % 4 == 2 ? 1 : -1;
      memcpy (&v, &bits, 4);
      break;
    }
    if (g_rand_boolean (rng))
      v = -v;
    a[i] = v;
    want[i] = heed_f16_to_f32 (heed_f32_to_f16 (v));
  }
  HeedBuffer *ba = buffer_from (d, a, (gsize) m_pad * lda, 0);
  HeedBuffer *bb = heed_buffer_new_half (d, b, (gsize) K * ldb, &error);
  g_assert_no_error (error);
  bb->half_operands = TRUE;
  HeedKernel kinds[HALF_KERNELS][2];
  guint n = half_kernels (kinds);
  for (guint v = 0; v < n; v++)
    for (guint k4 = 0; k4 < 2; k4++) {
      HeedKernels table = d->kernels;
      /* whichever of the two heed_op_gemm would take, the kernel under test */
      table.gemm_half = table.gemm_half_k4 = kinds[v][k4];
      HeedBuffer *bc = buffer_from (d, NULL, 0, (gsize) M * ldc);
      HeedRecorder *rec = heed_recorder_new (d, &table, 1, FALSE, &error);
      g_assert_no_error (error);
      heed_op_gemm (rec, (HeedMat){ ba, 0, lda, 0 }, (HeedMat){ bb, 0, ldb, 0 },
                    (HeedMat){ bc, 0, ldc, 0 }, NULL, M, N, K, 1, 1.0f, 0, "gemm", "test", &error);
      g_assert_no_error (error);
      run_recorder (rec);
      float *got = buffer_read (bc, (gsize) M * ldc);
      for (guint i = 0; i < M * K; i++)
        if (memcmp (&got[i], &want[i], 4) != 0)
          g_error ("%s: A %.9g rounded to %.9g, not %.9g", heed_shaders[kinds[v][k4].shader].name,
                   a[i], got[i], want[i]);
      g_free (got);
      heed_recorder_destroy (&rec);
      heed_buffer_destroy (&bc);
    }
  heed_buffer_destroy (&ba), heed_buffer_destroy (&bb);
  g_free (a), g_free (b), g_free (want);
  g_rand_free (rng);
  assert_no_validation_messages ();
}

/* Every case through every GEMM variant the device can run: the device's own (on lavapipe the
 * shuffle variant reading texels, 16 x 4 tiles, storing C in pairs), the same storing floats, the
 * storage-buffer register tiles (16 x 8; the scalar one where K is not a multiple of 4) and the
 * shared-memory TILED kernel of GPUs; each with B in float32 and in halves, and C aligned and
 * not; then fp16-matmul's kernels. */
static void
test_gemm (gconstpointer data)
{
  const HeedKernels *own = &get_device ()->kernels;
  const HeedKernel storage = { HEED_SHADER_GEMM, storage_lanes () };
  const HeedKernel storage_k4 = { HEED_SHADER_GEMM_K4, storage_lanes () };
  const HeedKernel tiled = { HEED_SHADER_GEMM_TILED, 256 };
  const HeedKernel floats = float_stores (own).gemm_k4;
  const HeedKernel others[][2] = { { own->gemm, floats },
                                   { storage, storage_k4 },
                                   { tiled, tiled } };
  for (int half_b = 0; half_b < 2; half_b++)
    for (int aligned_c = 0; aligned_c < 2; aligned_c++) {
      run_gemm_case (data, half_b ? OPERANDS_HALF_B : OPERANDS_F32, aligned_c);
      for (guint i = 0; i < G_N_ELEMENTS (others); i++) {
        if (own->gemm_k4.shader == others[i][1].shader && own->gemm.shader == others[i][0].shader)
          continue;
        variant = *own;
        variant.gemm = others[i][0];
        variant.gemm_k4 = others[i][1];
        use_variant = TRUE;
        run_gemm_case (data, half_b ? OPERANDS_HALF_B : OPERANDS_F32, aligned_c);
        use_variant = FALSE;
      }
    }
  HeedKernels fitted;
  if (rows_40 (own, &fitted))
    for (int half_b = 0; half_b < 2; half_b++)
      for (int aligned_c = 0; aligned_c < 2; aligned_c++)
        for (int floats_c = 0; floats_c < 2; floats_c++) {
          variant = floats_c ? float_stores (&fitted) : fitted;
          use_variant = TRUE;
          run_gemm_case (data, half_b ? OPERANDS_HALF_B : OPERANDS_F32, aligned_c);
          use_variant = FALSE;
        }
  for (int aligned_c = 0; aligned_c < 2; aligned_c++)
    gemm_half_cases (data, aligned_c);
}

/* The LayerNorm folded into the GEMM after it (lavapipe's qkv and fc1): LayerNorm then GEMM in C
 * against one dispatch, on odd sizes, eps as timm's and as transformers', and rows whose mean is
 * far larger than their spread (the kernel's shift keeps the variance from cancelling), with the
 * table kernels () gives */
static void
gemm_layernorm_cases (void)
{
  HeedDevice *d = get_device ();
  /* M, N, K, epilogue, eps, the rows' mean */
  const struct {
    guint M, N, K, epilogue;
    float eps, mean;
  } cases[] = { { 197, 576, 192, 0, 1e-6f, 0.0f },
                { 37, 100, 64, HEED_EPI_GELU, 1e-12f, 3.0f },
                { 5, 40, 20, HEED_EPI_QUICK_GELU, 1e-6f, -1.0f },
                { 21, 50, 32, HEED_EPI_GELU_TANH, 1e-6f, 1.0f },
                { 50, 130, 96, 0, 1e-5f, 300.0f },
                { 1, 8, 4, 0, 1e-6f, 0.5f },
                { 8, 768, 192, HEED_EPI_GELU, 1e-6f, 0.0f },
                { 3, 1000, 192, 0, 1e-6f, 2.0f },
                /* RMSNorm folded in (AIMv2's), rows centred and not */
                { 197, 576, 192, HEED_EPI_RMS, 1e-5f, 0.0f },
                { 37, 100, 64, HEED_EPI_RMS | HEED_EPI_GELU, 1e-6f, 3.0f },
                { 50, 130, 96, HEED_EPI_RMS, 1e-5f, 300.0f } };
  GError *error = NULL;
  for (guint t = 0; t < G_N_ELEMENTS (cases); t++) {
    guint M = cases[t].M, N = cases[t].N, K = cases[t].K;
    GRand *rng = g_rand_new_with_seed (t + 77);
    guint m_pad = heed_round_up (M, kernels ()->row_align);
    /* C aligned (where N is a multiple of 4 the pairs variant stores) and not (it falls back) */
    guint ldb = heed_round_up (N, kernels ()->col_align),
          ldc = t % 2 ? N + 3 : heed_round_up (N, 4) + 4;
    float *x = random_floats (rng, (gsize) m_pad * K, cases[t].mean - 2, cases[t].mean + 2);
    float *gamma = random_floats (rng, K, 0.2, 1.8), *beta = random_floats (rng, K, -0.5, 0.5);
    float *w = random_floats (rng, (gsize) K * ldb, -0.3, 0.3);
    float *bias = random_floats (rng, N, -0.5, 0.5);
    float *c = random_floats (rng, (gsize) M * ldc, -1, 1);
    float *normed = g_new (float, (gsize) M *K), *want = g_memdup2 (c, (gsize) M * ldc * 4);
    (cases[t].epilogue & HEED_EPI_RMS ? heed_ref_rmsnorm : heed_ref_layernorm) (
        x, K, normed, K, gamma, beta, M, K, cases[t].eps);
    heed_ref_gemm (normed, K, w, ldb, want, ldc, M, N, K, 1.0f, bias, cases[t].epilogue);

    float *bias_colsum = g_new (float, 2 * N);
    heed_fold_layernorm (w, K, N, ldb, gamma, beta, bias, bias_colsum);
    HeedBuffer *bx = buffer_from (d, x, (gsize) m_pad * K, 0);
    HeedBuffer *bw = buffer_from (d, w, (gsize) K * ldb, 0);
    HeedBuffer *bb = buffer_from (d, bias_colsum, 2 * N, 0);
    HeedBuffer *bc = buffer_from (d, c, (gsize) M * ldc, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_no_error (error);
    g_assert_true (heed_op_gemm_layernorm (
        rec, (HeedMat){ bx, 0, K, 0 }, (HeedMat){ bw, 0, ldb, 0 }, (HeedMat){ bc, 0, ldc, 0 }, bb,
        M, N, K, 1, cases[t].eps, cases[t].epilogue, "qkv", "test", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bc, (gsize) M * ldc);
    assert_close (got, want, (gsize) M * ldc, 5e-6);
    /* the padding columns of C keep their values */
    for (guint m = 0; m < M; m++)
      for (guint n = N; n < ldc; n++)
        g_assert_cmpfloat (got[m * ldc + n], ==, c[m * ldc + n]);

    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx), heed_buffer_destroy (&bw), heed_buffer_destroy (&bb);
    heed_buffer_destroy (&bc);
    g_free (x), g_free (gamma), g_free (beta), g_free (w), g_free (bias), g_free (c);
    g_free (normed), g_free (want), g_free (bias_colsum), g_free (got);
    g_rand_free (rng);
  }
}

/* ... with the device's table where it has the kernel, otherwise the shuffle variant of its
 * subgroup size; and with the 40-row twins where the device has them */
static void
test_gemm_layernorm (void)
{
  HeedDevice *d = get_device ();
  if (d->kernels.gemm_k4_ln.shader == HEED_SHADER_COUNT) {
    /* lavapipe runs it at each of its widths (ops, ops-512, ops-128); a GPU's subgroups of 32 or
     * 64 have no variant, and its table never folds the LayerNorm */
    if (d->subgroup_size != 4 && d->subgroup_size != 8 && d->subgroup_size != 16) {
      g_assert_true (d->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU);
      g_test_skip ("the folded LayerNorm has variants for subgroups of 4, 8 and 16 only "
                   "(lavapipe's)");
      return;
    }
    variant = d->kernels;
    variant.gemm_k4_ln = (HeedKernel){ d->subgroup_size == 4   ? HEED_SHADER_GEMM_K4_SG4_TEXELS_LN
                                       : d->subgroup_size == 8 ? HEED_SHADER_GEMM_K4_SG8_TEXELS_LN
                                                               : HEED_SHADER_GEMM_K4_SG16_TEXELS_LN,
                                       d->subgroup_size };
    variant.row_align = MAX (16, heed_shaders[variant.gemm_k4_ln.shader].tile_rows);
    variant.col_align = d->subgroup_size * 8;
    use_variant = TRUE;
  }
  gemm_layernorm_cases ();
  /* the 40-row twins a plan of DeiT's 197 tokens takes at 16 lanes, C in pairs and as floats */
  HeedKernels fitted;
  if (!use_variant && rows_40 (&d->kernels, &fitted))
    for (int floats_c = 0; floats_c < 2; floats_c++) {
      variant = floats_c ? float_stores (&fitted) : fitted;
      use_variant = TRUE;
      gemm_layernorm_cases ();
    }
  use_variant = FALSE;
  assert_no_validation_messages ();
}

/* The kernel table on lavapipe (HEED_KERNELS=gpu: a GPU's): GEMM workgroups one subgroup wide (8
 * lanes at 256-bit vectors, 16 at 512, 4 at 128; the ops-512 and ops-128 tests run this file at
 * those widths), the shuffle variant reading texels, and the row kernels reading texels. So the
 * GEMM cases above ran that variant. */
static void
test_kernel_table (void)
{
  HeedDevice *d = get_device ();
  const HeedKernels *k = &d->kernels;
  if (g_strcmp0 (g_getenv ("HEED_KERNELS"), "gpu") == 0 ||
      d->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU) {
    /* a GPU's table (or lavapipe told to take one): shared-memory GEMM tiles, a subgroup per
     * row reading storage buffers, the attention in shared-memory tiles (so /ops/attention ran
     * it) */
    g_assert_cmpint (k->gemm.shader, ==, HEED_SHADER_GEMM_TILED);
    g_assert_cmpint (k->gemm_k4.shader, ==, HEED_SHADER_GEMM_TILED);
    g_assert_cmpuint (k->gemm_k4.local_size, ==, 256);
    g_assert_cmpint (k->layernorm_rows.shader, ==, HEED_SHADER_LAYERNORM_SG);
    /* lavapipe and the GPUs heed ran on have 32 kB of shared memory and shuffles, in subgroups of
     * 8 lanes or more but for lavapipe at 128 bits (the smaller kernels run as variants in
     * /ops/attention) */
    if (d->subgroup_size >= 8) {
      g_assert_cmpint (k->attention.shader, ==, HEED_SHADER_ATTENTION_FLASH);
      g_assert_cmpuint (k->attention.local_size, ==, 128);
    } else {
      g_assert_cmpint (k->attention.shader, ==, HEED_SHADER_ATTENTION_TILED);
    }
    g_assert_cmpint (k->softmax_rows.shader, ==, HEED_SHADER_SOFTMAX_SG);
    /* fp16-matmul: tensor cores where heed enabled them, the TILED kernel rounding A elsewhere */
    g_assert_cmpint (k->gemm_half_k4.shader, ==,
                     d->coopmat && d->subgroup_size == 32 ? HEED_SHADER_GEMM_COOPMAT
                                                          : HEED_SHADER_GEMM_TILED_BH_AH);
    return;
  }
  /* lavapipe has no cooperative matrices: fp16-matmul rounds A in the register tiles */
  g_assert_false (d->coopmat);
  g_assert_cmpint (k->gemm_half_k4.shader, ==, HEED_SHADER_GEMM_K4_BH_AH);
  g_assert_cmpint (k->gemm_half.shader, ==, HEED_SHADER_GEMM_BH_AH);
  g_assert_cmpuint (k->gemm_k4.local_size, ==, d->subgroup_size);
  /* heed's own lavapipe device has shaderInt64 enabled: C stored in pairs */
  g_assert_true (d->int64);
  guint w = d->subgroup_size == 4 ? 0 : d->subgroup_size == 8 ? 1 : 2;
  g_assert_cmpuint (d->subgroup_size, ==, 4u << w);
  const HeedShaderId gemm[] = { HEED_SHADER_GEMM_K4_SG4_TEXELS_PAIRS,
                                HEED_SHADER_GEMM_K4_SG8_TEXELS_PAIRS,
                                HEED_SHADER_GEMM_K4_SG16_TEXELS_PAIRS };
  const HeedShaderId bt[] = { HEED_SHADER_GEMM_K4_SG4_TEXELS_BT_PAIRS,
                              HEED_SHADER_GEMM_K4_SG8_TEXELS_BT_PAIRS,
                              HEED_SHADER_GEMM_K4_SG16_TEXELS_BT_PAIRS };
  const HeedShaderId sm[] = { HEED_SHADER_GEMM_K4_SG4_TEXELS_SM, HEED_SHADER_GEMM_K4_SG8_TEXELS_SM,
                              HEED_SHADER_GEMM_K4_SG16_TEXELS_SM };
  const HeedShaderId attention[] = { HEED_SHADER_ATTENTION_SG4, HEED_SHADER_ATTENTION_SG8,
                                     HEED_SHADER_ATTENTION_SG16 };
  g_assert_cmpint (k->gemm_k4.shader, ==, gemm[w]);
  g_assert_cmpint (k->gemm_k4_bt.shader, ==, bt[w]);
  g_assert_cmpint (heed_gemm_without_pairs (k->gemm_k4_softmax.shader), ==, sm[w]);
  g_assert_cmpint (k->attention.shader, ==, attention[w]);
  g_assert_cmpint (k->layernorm_rows.shader, ==, HEED_SHADER_LAYERNORM_SG_TEXELS);
  g_assert_cmpint (k->softmax_rows.shader, ==, HEED_SHADER_SOFTMAX_SG_TEXELS);
  /* a plan's rows: at 16 lanes, 40-row tiles where they pad less than 32-row ones (DeiT's 197
   * tokens, 37), the 32-row ones where not (CLIP B/32's 50, 64, ties: 160), every GEMM of the
   * table alike; at other widths the device's table whatever the rows */
  const struct {
    guint rows;
    gboolean forty;
  } fits[] = { { 197, TRUE }, { 37, TRUE },   { 577, TRUE }, { 50, FALSE },
               { 64, FALSE }, { 160, FALSE }, { 1, FALSE },  { 0, FALSE } };
  for (guint i = 0; i < G_N_ELEMENTS (fits); i++) {
    HeedKernels fitted = *k;
    heed_kernels_fit_rows (&fitted, fits[i].rows);
    gboolean forty = fits[i].forty && w == 2;
    g_assert_cmpuint (fitted.row_align, ==, forty ? 40 : k->row_align);
    g_assert_cmpint (fitted.gemm_k4.shader, ==,
                     forty ? HEED_SHADER_GEMM_K4_SG16R40_TEXELS_PAIRS : k->gemm_k4.shader);
    g_assert_cmpint (fitted.gemm_k4_bt.shader, ==,
                     forty ? HEED_SHADER_GEMM_K4_SG16R40_TEXELS_BT_PAIRS : k->gemm_k4_bt.shader);
    g_assert_cmpint (fitted.gemm_k4_ln.shader, ==,
                     forty ? HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN_PAIRS : k->gemm_k4_ln.shader);
    g_assert_cmpint (fitted.gemm_k4_softmax.shader, ==,
                     forty ? HEED_SHADER_GEMM_K4_SG16R40_TEXELS_SM_PAIRS
                           : k->gemm_k4_softmax.shader);
    g_assert_cmpuint (heed_shaders[fitted.gemm_k4.shader].tile_rows, ==, fitted.row_align);
    /* a GEMM of 8 rows or fewer takes the plain and LayerNorm kernels' 8-row twins at 16 and 8
     * lanes (both tables' at 16), C in pairs or as floats as the kernel it replaces; the
     * attention's GEMMs and the 4-lane table keep theirs */
    const HeedShaderId plain[] = { fitted.gemm_k4.shader, fitted.gemm_k4_ln.shader,
                                   heed_gemm_without_pairs (fitted.gemm_k4.shader),
                                   heed_gemm_without_pairs (fitted.gemm_k4_ln.shader) };
    for (guint j = 0; j < G_N_ELEMENTS (plain); j++)
      for (guint M = 1; M <= 9; M++) {
        HeedShaderId few = heed_gemm_for_rows (plain[j], M);
        if (M == 9 || w == 0) {
          g_assert_cmpint (few, ==, plain[j]);
          continue;
        }
        g_assert_cmpuint (heed_shaders[few].tile_rows, ==, 8);
        g_assert_cmpuint (heed_shaders[few].texel_bindings, ==,
                          heed_shaders[plain[j]].texel_bindings);
        g_assert_cmpint (heed_gemm_with_pairs (few) == few, ==,
                         heed_gemm_with_pairs (plain[j]) == plain[j]);
        g_assert_cmpint (heed_gemm_for_rows (heed_gemm_without_pairs (plain[j]), M), ==,
                         heed_gemm_without_pairs (few));
      }
    g_assert_cmpint (heed_gemm_for_rows (fitted.gemm_k4_bt.shader, 1), ==,
                     fitted.gemm_k4_bt.shader);
    g_assert_cmpint (heed_gemm_for_rows (fitted.gemm_k4_softmax.shader, 1), ==,
                     fitted.gemm_k4_softmax.shader);
  }
  const HeedShaderId few_ln[] = { HEED_SHADER_COUNT, HEED_SHADER_GEMM_K4_SG8R8_TEXELS_LN_PAIRS,
                                  HEED_SHADER_GEMM_K4_SG16R8_TEXELS_LN_PAIRS };
  if (w > 0)
    g_assert_cmpint (heed_gemm_for_rows (k->gemm_k4_ln.shader, 2), ==, few_ln[w]);
  /* lavapipe's subgroup is its vector width in floats (8 by default where the CPU has AVX) */
  const char *width = g_getenv ("LP_NATIVE_VECTOR_WIDTH");
  if (width)
    g_assert_cmpuint (d->subgroup_size, ==, (guint) atoi (width) / 32);
}

/* Runs fn once per row-kernel variant the device has: a subgroup per row with vec4s (aligned
 * rows) and one invocation per row. */
static void
for_each_row_variant (void (*fn) (void))
{
  const HeedKernels *own = &get_device ()->kernels;
  fn ();
  if (own->layernorm_rows.shader != own->layernorm.shader) {
    variant = *own;
    variant.layernorm_rows = variant.layernorm;
    variant.softmax_rows = variant.softmax;
    use_variant = TRUE;
    fn ();
    use_variant = FALSE;
  }
}

/* LayerNorm and RMSNorm, written or added to y (HeedNormMode), against the C references */
static void
layernorm_cases (void)
{
  HeedDevice *d = get_device ();
  /* M, D, ldx, ldy: the last three are 16-byte aligned (the vec4 variant) */
  const guint sizes[][4] = { { 1, 1, 2, 5 },          { 5, 7, 8, 11 },
                             { 197, 192, 193, 196 },  { 33, 769, 770, 773 },
                             { 197, 192, 192, 196 },  { 3, 4, 4, 8 },
                             { 40, 1028, 1032, 1028 } };
  const HeedNormMode modes[] = { HEED_NORM_LAYER, HEED_NORM_RMS, HEED_NORM_ADD,
                                 HEED_NORM_RMS | HEED_NORM_ADD };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (sizes) * G_N_ELEMENTS (modes); s++) {
    guint M = sizes[s / 4][0], D = sizes[s / 4][1], ldx = sizes[s / 4][2], ldy = sizes[s / 4][3];
    HeedNormMode mode = modes[s % 4];
    GRand *rng = g_rand_new_with_seed (s / 4 + 1);
    float *x = random_floats (rng, (gsize) M * ldx, -3, 5); /* mean far from 0 */
    float *g = random_floats (rng, D, 0.5, 1.5), *bta = random_floats (rng, D, -1, 1);
    float *y0 = random_floats (rng, (gsize) M * ldy, -1, 1);
    float *want = g_memdup2 (y0, (gsize) M * ldy * 4);
    float *normed = g_memdup2 (y0, (gsize) M * ldy * 4);
    (mode & HEED_NORM_RMS ? heed_ref_rmsnorm : heed_ref_layernorm) (x, ldx, normed, ldy, g, bta, M,
                                                                    D, 1e-6f);
    for (guint m = 0; m < M; m++)
      for (guint i = 0; i < D; i++)
        want[m * ldy + i] = normed[m * ldy + i] + (mode & HEED_NORM_ADD ? y0[m * ldy + i] : 0.0f);

    HeedBuffer *bx = buffer_from (d, x, (gsize) M * ldx, 0);
    HeedBuffer *by = buffer_from (d, y0, (gsize) M * ldy, 0);
    HeedBuffer *bg = buffer_from (d, g, D, 0), *bb = buffer_from (d, bta, D, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    heed_op_layernorm (rec, (HeedMat){ bx, 0, ldx, 0 }, (HeedMat){ by, 0, ldy, 0 }, bg, bb, M, D,
                       1e-6f, mode, "ln", &error);
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (by, (gsize) M * ldy);
    assert_close (got, want, (gsize) M * ldy, 2e-6);
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx), heed_buffer_destroy (&by), heed_buffer_destroy (&bg);
    heed_buffer_destroy (&bb);
    g_free (x), g_free (g), g_free (bta), g_free (y0), g_free (want), g_free (normed), g_free (got);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

static void layernorm_batch_cases (void);

static void
test_layernorm (void)
{
  for_each_row_variant (layernorm_cases);
  for_each_row_variant (layernorm_batch_cases);
}

/* Past the first `rows` rows and `cols` columns of each batch (`batch` floats apart, rows `ld`
 * apart), got is exactly what the buffer held before the op */
static void
assert_unchanged_outside (const float *got, const float *was, gsize n, gsize batch, guint ld,
                          guint rows, guint cols)
{
  for (gsize i = 0; i < n; i++)
    if ((i % batch) % ld >= cols || i % batch >= (gsize) rows * ld)
      g_assert_cmpfloat (got[i], ==, was[i]);
}

/* A LayerNorm over the first rows of each batch (a last block's class rows, frames T rows
 * apart) in one dispatch: those rows as heed_ref_layernorm gives them, every other float of y as
 * it was (rows, D, batches, ld, the batch stride of x and of y: aligned for the vec4 variant and
 * not) */
static void
layernorm_batch_cases (void)
{
  HeedDevice *d = get_device ();
  const guint sizes[][6] = { { 1, 192, 4, 192, 192 * 197, 192 * 200 },
                             { 2, 12, 3, 12, 12 * 5, 16 * 4 },
                             { 3, 7, 5, 9, 9 * 4 + 1, 9 * 3 + 2 } };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    guint R = sizes[s][0], D = sizes[s][1], B = sizes[s][2], ld = sizes[s][3];
    gsize xb = sizes[s][4], yb = sizes[s][5];
    GRand *rng = g_rand_new_with_seed (s + 150);
    float *x = random_floats (rng, xb * B, -3, 5);
    float *y0 = random_floats (rng, yb * B, -1, 1);
    float *g = random_floats (rng, D, 0.5, 1.5), *bta = random_floats (rng, D, -1, 1);
    float *want = g_memdup2 (y0, yb * B * 4);
    for (guint b = 0; b < B; b++)
      heed_ref_layernorm (x + b * xb, ld, want + b * yb, ld, g, bta, R, D, 1e-6f);
    HeedBuffer *bx = buffer_from (d, x, xb * B, 0), *by = buffer_from (d, y0, yb * B, 0);
    HeedBuffer *bg = buffer_from (d, g, D, 0), *bb = buffer_from (d, bta, D, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_layernorm_batches (rec, (HeedMat){ bx, 0, ld, xb },
                                              (HeedMat){ by, 0, ld, yb }, bg, bb, R, B, D, 1e-6f,
                                              HEED_NORM_LAYER, "ln", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    heed_recorder_destroy (&rec);
    float *got = buffer_read (by, yb * B);
    for (guint b = 0; b < B; b++)
      assert_close (got + b * yb, want + b * yb, (gsize) R * ld, 2e-6);
    assert_unchanged_outside (got, y0, yb * B, yb, ld, R, D);
    heed_buffer_destroy (&bx), heed_buffer_destroy (&by), heed_buffer_destroy (&bg);
    heed_buffer_destroy (&bb);
    g_free (x), g_free (y0), g_free (g), g_free (bta), g_free (want), g_free (got);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

static void
softmax_cases (void)
{
  HeedDevice *d = get_device ();
  /* M, N, batches, ld, batch stride: the last three are 16-byte aligned, with N not a multiple
   * of 4, so the vec4 variant must leave the padding columns out */
  const guint sizes[][5] = { { 1, 1, 1, 4, 6 },           { 11, 197, 3, 200, 2202 },
                             { 82, 82, 2, 85, 6972 },     { 5, 1000, 1, 1003, 5017 },
                             { 197, 197, 3, 224, 44800 }, { 9, 5, 2, 8, 72 },
                             { 3, 1, 1, 4, 12 } };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    guint M = sizes[s][0], N = sizes[s][1], B = sizes[s][2], ld = sizes[s][3];
    gsize batch = sizes[s][4], n = batch * B;
    GRand *rng = g_rand_new_with_seed (s + 10);
    /* scores around 1e4: exp overflows unless the row maximum is subtracted; row padding is
     * zero, as the GEMMs leave it, and must stay zero */
    float *x = random_floats (rng, n, 1e4 - 20, 1e4 + 20);
    for (gsize i = 0; i < n; i++)
      if ((i % batch) % ld >= N || (i % batch) >= (gsize) M * ld)
        x[i] = 0.0f;
    float *x_neg = random_floats (rng, n, -1e4 - 20, -1e4 + 20); /* all far below the padding */
    if (s % 2)
      for (gsize i = 0; i < n; i++)
        if ((i % batch) % ld < N && (i % batch) < (gsize) M * ld)
          x[i] = x_neg[i];
    g_free (x_neg);
    float *want = g_memdup2 (x, n * 4);
    for (guint b = 0; b < B; b++)
      heed_ref_softmax (want + b * batch, M, N, ld);
    HeedBuffer *bx = buffer_from (d, x, n, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    heed_op_softmax (rec, (HeedMat){ bx, 0, ld, (guint) batch }, M, N, B, "softmax", &error);
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bx, n);
    assert_close (got, want, n, 1e-5);
    for (guint b = 0; b < B; b++)
      for (guint m = 0; m < M; m++) {
        double sum = 0;
        for (guint j = 0; j < N; j++)
          sum += got[b * batch + m * ld + j];
        g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
      }
    assert_unchanged_outside (got, x, n, batch, ld, M, N);
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx);
    g_free (x), g_free (want), g_free (got);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

static void
test_softmax (void)
{
  for_each_row_variant (softmax_cases);
}

/* Patch embedding = patchify + GEMM (with the residual stream's cls/pos start), checked against
 * a direct convolution written independently of heed_ref_patchify; the start block laid down
 * for two frames, as a batch's, with D a multiple of 4 (four floats at a time) and not. */
static void
test_patch_embed (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][3] = { { 24, 8, 5 }, { 42, 14, 7 }, { 48, 16, 33 }, { 32, 8, 12 } };
  /* img, patch, D */
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++) {
    guint img = cases[s][0], p = cases[s][1], D = cases[s][2], g = img / p, Np = g * g;
    guint T = Np + 1, kp = 3 * p * p, ldw = heed_round_up (D, kernels ()->col_align);
    GRand *rng = g_rand_new_with_seed (s + 20);
    float *image = random_floats (rng, 3 * img * img, -2, 2);
    float *w = random_floats (rng, (gsize) D * kp, -0.2, 0.2); /* conv weight [D][3][p][p] */
    float *bias = random_floats (rng, D, -1, 1), *cls = random_floats (rng, D, -1, 1);
    float *pos = random_floats (rng, (gsize) T * D, -1, 1);
    float *want = g_new0 (float, (gsize) T *D);
    gsize n_wt = (gsize) kp * ldw;
    float *wt = g_new0 (float, n_wt);
    for (guint o = 0; o < D; o++)
      for (guint i = 0; i < kp; i++)
        wt[(gsize) i * ldw + o] = w[(gsize) o * kp + i];
    for (guint t = 0; t < T; t++)
      for (guint o = 0; o < D; o++) {
        double acc = pos[t * D + o] + (t == 0 ? cls[o] : bias[o]);
        if (t > 0) {
          guint py = (t - 1) / g, px = (t - 1) % g;
          for (guint c = 0; c < 3; c++)
            for (guint ky = 0; ky < p; ky++)
              for (guint kx = 0; kx < p; kx++)
                acc += (double) w[((o * 3 + c) * p + ky) * p + kx] *
                       image[(c * img + py * p + ky) * img + px * p + kx];
        }
        want[t * D + o] = (float) acc;
      }

    HeedBuffer *bimg = buffer_from (d, image, 3 * img * img, 0);
    /* the patches one row in, as a batch's second frame's would be */
    HeedBuffer *bpatch =
        buffer_from (d, NULL, 0, (gsize) (1 + heed_round_up (Np, kernels ()->row_align)) * kp);
    HeedBuffer *bw = buffer_from (d, wt, (gsize) kp * ldw, 0), *bb = buffer_from (d, bias, D, 0);
    float *start = g_new (float, (gsize) T *D);
    heed_tokens_start (cls, pos, T, D, 1, start);
    HeedBuffer *bstart = buffer_from (d, start, (gsize) T * D, 0);
    HeedBuffer *bx = buffer_from (d, NULL, 0, 2 * (gsize) T * D);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 3, FALSE, &error);
    g_assert_true (heed_op_patchify (rec, bimg, 0, bpatch, kp, 0, 1, 3, img, img, p, &error));
    g_assert_true (heed_op_tokens_init (rec, bstart, bx, T, D, 2, &error));
    g_assert_true (heed_op_gemm (rec, (HeedMat){ bpatch, kp, kp, 0 }, (HeedMat){ bw, 0, ldw, 0 },
                                 (HeedMat){ bx, D, D, 0 }, bb, Np, D, kp, 1, 1.0f,
                                 HEED_EPI_ACCUMULATE, "patch_embed", "patch_embed", &error));
    run_recorder (rec);
    float *got = buffer_read (bx, 2 * (gsize) T * D);
    assert_close (got, want, (gsize) T * D, 2e-6);
    for (gsize i = 0; i < (gsize) T * D; i++) /* the second frame's block: the start block */
      g_assert_cmpfloat (got[(gsize) T * D + i], ==, pos[i] + (i < D ? cls[i] : 0.0f));

    /* and the reference patchify agrees with the direct convolution's indexing */
    float *patches = g_new (float, (gsize) Np *kp),
          *gp = buffer_read (bpatch, (gsize) (Np + 1) * kp);
    heed_ref_patchify (image, 3, img, img, p, patches);
    g_assert_cmpmem (patches, (gsize) Np * kp * 4, gp + kp, (gsize) Np * kp * 4);
    for (guint i = 0; i < kp; i++) /* the row before them untouched */
      g_assert_cmpfloat (gp[i], ==, 0.0f);

    /* a batch's three frames in one dispatch: images `in` floats apart (the second frame's
     * first image, the third's the second's), patches `out` apart from a row in, nothing else
     * of the patch rows written */
    guint in = heed_round_up (3 * img * img, 4) + 4, out = (Np + 1) * kp;
    float *images = random_floats (rng, (gsize) 3 * in, -2, 2);
    HeedBuffer *bimgs = buffer_from (d, images, (gsize) 3 * in, 0);
    HeedBuffer *bpatches = buffer_from (d, NULL, 0, (gsize) 4 * out);
    heed_recorder_destroy (&rec);
    rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_patchify (rec, bimgs, in, bpatches, kp, out, 3, 3, img, img, p, &error));
    run_recorder (rec);
    float *gps = buffer_read (bpatches, (gsize) 4 * out);
    for (guint f = 0; f < 3; f++) {
      heed_ref_patchify (images + (gsize) f * in, 3, img, img, p, patches);
      g_assert_cmpmem (patches, (gsize) Np * kp * 4, gps + kp + (gsize) f * out,
                       (gsize) Np * kp * 4);
      for (guint i = 0; i < kp; i++) /* the row between frames untouched */
        g_assert_cmpfloat (gps[(gsize) f * out + i], ==, 0.0f);
    }
    heed_buffer_destroy (&bimgs), heed_buffer_destroy (&bpatches);
    g_free (images), g_free (gps);

    heed_recorder_destroy (&rec);
    HeedBuffer **all[] = { &bimg, &bpatch, &bw, &bb, &bstart, &bx };
    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      heed_buffer_destroy (all[i]);
    g_free (image), g_free (w), g_free (bias), g_free (cls), g_free (pos), g_free (want);
    g_free (wt), g_free (got), g_free (patches), g_free (gp), g_free (start);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* SwiGLU's gate against the C reference: in every row of every batch the first `hidden` floats
 * become silu (gate) * value and nothing else changes (the values, the padding past 2 hidden,
 * the rows between batches); the last case is wider than one dispatch, so the shader strides. */
static void
test_swiglu (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][4] = {
    { 5, 3, 7, 1 },     /* rows, hidden, ld (>= 2 hidden), batches */
    { 17, 64, 128, 1 }, /* ld exactly 2 hidden */
    { 4, 24, 52, 3 },   /* a few rows of each of 3 frames, T = 9 rows apart */
    { 1100, 4000, 8000, 1 },
  };
  GError *error = NULL;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    guint rows = cases[k][0], hidden = cases[k][1], ld = cases[k][2], batches = cases[k][3];
    guint batch = (batches > 1 ? rows + 5 : rows) * ld; /* other rows between the frames */
    gsize n = (gsize) batch * batches;
    GRand *rng = g_rand_new_with_seed (k + 77);
    float *x = random_floats (rng, n, -8, 8), *want = g_memdup2 (x, n * sizeof (float));
    for (guint b = 0; b < batches; b++)
      heed_ref_swiglu (want + (gsize) b * batch, rows, hidden, ld);
    HeedBuffer *bx = buffer_from (d, x, n, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_swiglu (rec, (HeedMat){ bx, 0, ld, batch }, rows, hidden, batches,
                                   "swiglu", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bx, n);
    assert_close (got, want, n, 1e-6);
    assert_unchanged_outside (got, x, n, batch, ld, rows, hidden); /* the values too */
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx);
    g_free (x), g_free (want), g_free (got);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* Row gathers against the C reference: a permutation of one frame's rows (Swin's window
 * order), 2 x 2 of rows side by side for 3 frames at once (patch merging's, an index that
 * repeats rows), and one wider than one dispatch, so the shader strides. */
static void
test_gather_rows (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][5] = {
    { 16, 16, 8, 1, 1 }, /* rows in, rows out, width, group, frames */
    { 64, 16, 12, 4, 3 },
    { 4096, 4096, 512, 1, 2 },
    { 25, 36, 8, 1, 2 }, /* Swin's padding: 11 zero rows among the 25 (HEED_SWIN_PAD) */
  };
  GError *error = NULL;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    guint rows_in = cases[k][0], rows_out = cases[k][1], width = cases[k][2];
    guint group = cases[k][3], frames = cases[k][4];
    gsize n_in = (gsize) frames * rows_in * width,
          n_out = (gsize) frames * rows_out * group * width;
    GRand *rng = g_rand_new_with_seed (k + 31);
    float *x = random_floats (rng, n_in, -8, 8), *want = g_new (float, n_out);
    guint *index = g_new (guint, rows_out * group);
    for (guint i = 0; i < rows_out * group; i++) /* a permutation, or rows picked at random */
      index[i] = group > 1     ? (guint) g_rand_int_range (rng, 0, (gint32) rows_in)
                 : i < rows_in ? i
                               : HEED_SWIN_PAD;
    for (guint i = 0; group == 1 && i + 1 < rows_out; i++) {
      guint j = (guint) g_rand_int_range (rng, (gint32) i, (gint32) rows_out), t = index[i];
      index[i] = index[j], index[j] = t;
    }
    heed_ref_gather_rows (x, index, want, rows_out, rows_in, width, group, frames);
    HeedBuffer *bx = buffer_from (d, x, n_in, 0), *bout = buffer_from (d, NULL, 0, n_out);
    HeedBuffer *bi = heed_buffer_new (d, rows_out * group * 4, FALSE, &error);
    g_assert_no_error (error);
    g_assert_true (heed_buffer_upload (bi, 0, index, rows_out * group * 4, &error));
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_gather_rows (rec, bx, bi, bout, rows_out, rows_in, width, group, frames,
                                        "gather", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bout, n_out);
    assert_close (got, want, n_out, 0.0);
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx), heed_buffer_destroy (&bout), heed_buffer_destroy (&bi);
    g_free (x), g_free (want), g_free (got), g_free (index);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* The rotary position embedding against the C reference: the patch rows' queries and keys of
 * every frame turned pair by pair, each head by its own table, and nothing else changed (the
 * prefix rows, the values, the floats before qkv_off); the tables heed_rope_table makes
 * (EVA-02's, DINOv3's, RoPE-Mixed's second block's, from its offset) and random ones; the last
 * case is wider than one dispatch, so the shader strides. */
static void
test_rope (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][5] = {
    { 10, 1, 1, 64, 2 },      /* tokens, prefix, frames, D, heads */
    { 9, 0, 3, 24, 3 },       /* no prefix, three frames, heads of 8 */
    { 21, 5, 2, 96, 3 },      /* a class token and 4 registers */
    { 5, 1, 2, 32, 2 },       /* RoPE-Mixed's: 2 blocks' tables, the second's */
    { 1100, 1, 1, 4096, 32 }, /* 4.5 M pairs */
  };
  GError *error = NULL;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    guint T = cases[k][0], prefix = cases[k][1], frames = cases[k][2], D = cases[k][3];
    guint H = cases[k][4], off = k % 2 ? 0 : 3 * D + 5, pairs = D / H / 2;
    gsize n = off + (gsize) frames * T * 3 * D, block = (gsize) (T - prefix) * D, table_off = 0;
    GRand *rng = g_rand_new_with_seed (k + 31);
    float *x = random_floats (rng, n, -4, 4), *want = g_memdup2 (x, n * sizeof (float));
    float *table;
    gsize table_floats = block;
    if (k == 0) { /* EVA-02's: a 3 x 3 grid learnt at 16 x 16, the same for both heads */
      HeedModelConfig c = { .grid = 3,
                            .num_patches = 9,
                            .num_heads = H,
                            .head_dim = D / H,
                            .rope_ref_grid = 16,
                            .rope_base = 10000 };
      table = heed_rope_table (&c, NULL);
      g_assert_cmpfloat_with_epsilon (table[2 * (4 * pairs + 0)], cos (16.0 / 3), 1e-6);
      g_assert_cmpfloat_with_epsilon (
          table[2 * (5 * pairs + pairs - 1) + 1],
          sin (2 * 16.0 / 3 * pow (10000, -(pairs / 2 - 1.0) / (pairs / 2))), 1e-6);
      g_assert_cmpmem (table, block / 2 * sizeof (float), table + block / 2,
                       block / 2 * sizeof (float));
    } else if (k == 2) { /* DINOv3's: a 4 x 4 grid of centres on [-1, 1], base 100 */
      HeedModelConfig c = { .grid = 4,
                            .num_patches = 16,
                            .num_heads = H,
                            .head_dim = D / H,
                            .rope_dinov3 = TRUE,
                            .rope_base = 100 };
      table = heed_rope_table (&c, NULL);
      /* patch 6 (row 1, column 2): the row's centre -0.25, the column's 0.25 */
      g_assert_cmpfloat_with_epsilon (table[2 * (6 * pairs + 0)], cos (2 * G_PI * -0.25), 1e-6);
      g_assert_cmpfloat_with_epsilon (
          table[2 * (6 * pairs + pairs - 1) + 1],
          sin (2 * G_PI * 0.25 * pow (100, -(pairs / 2 - 1.0) / (pairs / 2))), 1e-6);
    } else if (k == 3) { /* RoPE-Mixed's: a 2 x 2 grid, column-major axes ("xy"), 2 blocks */
      HeedModelConfig c = { .grid = 2,
                            .num_patches = 4,
                            .depth = 2,
                            .num_heads = H,
                            .head_dim = D / H,
                            .rope_mixed = TRUE,
                            .rope_columns_first = TRUE };
      float *freqs = random_floats (rng, (gsize) 2 * 2 * H * pairs, -2, 2);
      table = heed_rope_table (&c, freqs);
      table_floats = 2 * block, table_off = block / 2; /* in pairs: block 1's */
      /* block 1, head 1, patch 3 (column 1, row 1), pair 2: fx + fy */
      gsize f = ((gsize) 1 * H + 1) * pairs + 2, at = ((gsize) (1 * H + 1) * 4 + 3) * pairs + 2;
      g_assert_cmpfloat_with_epsilon (table[2 * at], cos (freqs[f] + freqs[2 * H * pairs + f]),
                                      1e-6);
      g_free (freqs);
    } else {
      table = random_floats (rng, block, -1, 1);
    }
    for (guint f = 0; f < frames; f++)
      heed_ref_rope (want + off + (gsize) f * T * 3 * D, table + 2 * table_off, T, prefix, D, H);
    HeedBuffer *bx = buffer_from (d, x, n, 0);
    HeedBuffer *bt = buffer_from (d, table, table_floats, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (
        heed_op_rope (rec, bx, off, bt, table_off, T, prefix, frames, D, H, "rope", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bx, n);
    assert_close (got, want, n, 1e-6);
    g_assert_cmpmem (got, off * sizeof (float), x, off * sizeof (float));
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx);
    heed_buffer_destroy (&bt);
    g_free (x), g_free (want), g_free (got), g_free (table);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* Swin V2's cosine attention's lengths against the C reference: each head's query at its
 * scale's length and key at length 1, the values and the floats before qkv_off unchanged, a
 * head of zeros left zero (PyTorch's F.normalize divides by at least 1e-12); the last case
 * is wider than one dispatch (heads of 1), so the shader strides. */
static void
test_qk_normalize (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][3] = {
    { 7, 32, 2 },        /* rows, D, heads */
    { 50, 96, 3 },       /* heads of 32 */
    { 64, 128, 8 },      /* Swin V2-T's second stage's heads of 16 (its 64 x 64 windows' rows) */
    { 2100, 1024, 1024 } /* 4.3 M heads */
  };
  GError *error = NULL;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    guint rows = cases[k][0], D = cases[k][1], H = cases[k][2], off = k % 2 ? 0 : 3 * D + 5;
    gsize n = off + (gsize) rows * 3 * D;
    GRand *rng = g_rand_new_with_seed (k + 41);
    float *x = random_floats (rng, n, -4, 4), *scale = random_floats (rng, H, 0.5, 20);
    memset (x + off + 3 * D + (D / H), 0, (D / H) * sizeof (float)); /* row 1's head 1's query */
    float *want = g_memdup2 (x, n * sizeof (float));
    heed_ref_qk_normalize (want + off, scale, rows, D, H);
    HeedBuffer *bx = buffer_from (d, x, n, 0), *bs = buffer_from (d, scale, H, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_qk_normalize (rec, bx, off, bs, rows, D, H, "cosine", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bx, n);
    assert_close (got, want, n, 1e-5);
    g_assert_cmpmem (got, off * sizeof (float), x, off * sizeof (float));
    for (guint r = 0; r < rows; r++) /* the values as they were */
      g_assert_cmpmem (got + off + (gsize) r * 3 * D + 2 * D, D * sizeof (float),
                       x + off + (gsize) r * 3 * D + 2 * D, D * sizeof (float));
    for (guint i = 0; i < D / H; i++)
      g_assert_cmpfloat (got[off + 3 * D + D / H + i], ==, 0.0f);
    /* the reference's lengths: the scale's for a query, 1 for a key */
    double q = 0, kk = 0;
    for (guint i = 0; i < D / H; i++)
      q += (double) want[off + i] * want[off + i],
          kk += (double) want[off + D + i] * want[off + D + i];
    g_assert_cmpfloat_with_epsilon (sqrt (q), scale[0], 1e-4 * scale[0]);
    g_assert_cmpfloat_with_epsilon (sqrt (kk), 1.0, 1e-5);
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bx), heed_buffer_destroy (&bs);
    g_free (x), g_free (want), g_free (got), g_free (scale);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* Each head's class row of the probabilities in the scores, one head at a time, into out from
 * `at` (M floats a head) */
static void
record_cls_rows (HeedRecorder *rec, const HeedAttentionScratch *sc, HeedBuffer *out, guint at,
                 guint M, guint H)
{
  GError *error = NULL;
  for (guint h = 0; h < H; h++)
    g_assert_true (
        heed_op_head_mean (rec, (HeedMat){ sc->scores, h * sc->m_pad * sc->n_pad, sc->n_pad, 0 },
                           out, at + h * M, 1, M, 1, "cls", &error));
  g_assert_no_error (error);
}

/* Multi-head attention and both attention outputs the project needs: the CLS row per head and
 * the per-layer head average (attention rollout's input). */
static void
attention_cases (void)
{
  HeedDevice *d = get_device ();
  const guint cases[][3] = {
    { 1, 64, 1 },  { 10, 64, 1 },  { 82, 96, 2 }, { 197, 192, 3 },
    { 17, 80, 5 }, { 50, 128, 4 }, { 13, 15, 3 }, { 9, 30, 5 }
  }; /* tokens, dim, heads; the last two
        take the unaligned split path */
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++) {
    guint M = cases[s][0], D = cases[s][1], H = cases[s][2];
    GRand *rng = g_rand_new_with_seed (s + 30);
    float *qkv = random_floats (rng, (gsize) M * 3 * D, -2, 2);
    float *want = g_new (float, (gsize) M *D), *probs = g_new (float, (gsize) H *M *M);
    float *want_mean = g_new (float, (gsize) M *M);
    heed_ref_attention (qkv, NULL, want, probs, M, D, H);
    heed_ref_head_mean (probs, want_mean, M, M, H);

    HeedAttentionScratch sc = { 0 };
    g_assert_true (heed_attention_scratch_init (d, kernels (), &sc, M, D, H, &error));
    /* past the M rows, values as a batch's next frame leaves there: nothing may depend on them
     * (the GEMMs read them as padding; P.V's extra keys must meet zero probabilities) */
    gsize n_qkv = heed_attention_qkv_floats (kernels (), M, D);
    float *next_frame = random_floats (rng, n_qkv, -2, 2);
    memcpy (next_frame, qkv, (gsize) M * 3 * D * 4);
    HeedBuffer *bqkv = buffer_from (d, next_frame, n_qkv, 0);
    g_free (next_frame);
    HeedBuffer *bout = buffer_from (d, NULL, 0, (gsize) heed_round_up (M, 8) * D);
    HeedBuffer *bmean = buffer_from (d, NULL, 0, (gsize) M * M + H * M);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 8 + H, FALSE, &error);
    g_assert_true (
        heed_op_attention (rec, &sc, bqkv, NULL, bout, 0, M, M, D, H, TRUE, "attn", &error));
    g_assert_true (heed_op_head_mean (rec, (HeedMat){ sc.scores, 0, sc.n_pad, sc.m_pad * sc.n_pad },
                                      bmean, 0, M, M, H, "mean", &error));
    record_cls_rows (rec, &sc, bmean, M * M, M, H); /* after the mean */
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bout, (gsize) M * D);
    float *got_mean = buffer_read (bmean, (gsize) M * M + H * M);
    assert_close (got, want, (gsize) M * D, 1e-5);
    assert_close (got_mean, want_mean, (gsize) M * M, 1e-5);
    for (guint h = 0; h < H; h++)
      assert_close (got_mean + M * M + h * M, probs + (gsize) h * M * M, M, 1e-5);
    heed_recorder_destroy (&rec);

    /* without the probabilities kept: on lavapipe the softmax folds into P.V */
    HeedBuffer *bout2 = buffer_from (d, NULL, 0, (gsize) heed_round_up (M, 8) * D);
    rec = heed_recorder_new (d, kernels (), 8 + H, FALSE, &error);
    g_assert_true (
        heed_op_attention (rec, &sc, bqkv, NULL, bout2, 0, M, M, D, H, FALSE, "attn", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got2 = buffer_read (bout2, (gsize) M * D);
    assert_close (got2, want, (gsize) M * D, 1e-5);
    heed_buffer_destroy (&bout2);
    g_free (got2);
    heed_recorder_destroy (&rec);

    /* only the first rows attending (the last block of a class-token model: the class row and
     * a distillation row), probabilities kept: their outputs and probability rows as before,
     * every other output row left as it was */
    guint queries = MIN (M, 2);
    gsize n_out = (gsize) heed_round_up (M, 8) * D;
    float *sentinel = g_new (float, n_out);
    for (gsize i = 0; i < n_out; i++)
      sentinel[i] = 7.0f;
    HeedBuffer *bout3 = buffer_from (d, sentinel, n_out, 0);
    rec = heed_recorder_new (d, kernels (), 8 + H, FALSE, &error);
    g_assert_true (
        heed_op_attention (rec, &sc, bqkv, NULL, bout3, 0, M, queries, D, H, TRUE, "attn", &error));
    record_cls_rows (rec, &sc, bmean, M * M, M, H);
    g_assert_no_error (error);
    run_recorder (rec);
    float *got3 = buffer_read (bout3, n_out),
          *got3_cls = buffer_read (bmean, (gsize) M * M + H * M);
    assert_close (got3, want, (gsize) queries * D, 1e-5);
    for (gsize i = (gsize) queries * D; i < n_out; i++)
      g_assert_cmpfloat (got3[i], ==, 7.0f);
    for (guint h = 0; h < H; h++)
      assert_close (got3_cls + M * M + h * M, probs + (gsize) h * M * M, M, 1e-5);
    heed_buffer_destroy (&bout3);
    g_free (sentinel), g_free (got3), g_free (got3_cls);
    heed_recorder_destroy (&rec);

    /* with a bias on the scores (BEiT's relative position bias), probabilities kept and not,
     * every row and the first rows alone: the bias goes in before the softmax, and a stale
     * score left from the runs above must not survive in the scores */
    float *bias = random_floats (rng, (gsize) H * M * M, -3, 3);
    float *want_b = g_new (float, (gsize) M *D), *probs_b = g_new (float, (gsize) H *M *M);
    heed_ref_attention (qkv, bias, want_b, probs_b, M, D, H);
    gsize n_bias;
    float *padded = heed_attention_bias_padded (kernels (), bias, M, H, &n_bias);
    HeedBuffer *bbias = buffer_from (d, padded, n_bias, 0);
    for (guint keep = 0; keep < 2; keep++)
      for (guint rows_case = 0; rows_case < 2; rows_case++) {
        guint q_rows = rows_case ? queries : M;
        HeedBuffer *bout4 = buffer_from (d, NULL, 0, n_out);
        rec = heed_recorder_new (d, kernels (), 8 + H, FALSE, &error);
        g_assert_true (heed_op_attention (rec, &sc, bqkv, bbias, bout4, 0, M, q_rows, D, H, keep,
                                          "attn", &error));
        if (keep)
          record_cls_rows (rec, &sc, bmean, M * M, M, H);
        g_assert_no_error (error);
        run_recorder (rec);
        float *got4 = buffer_read (bout4, (gsize) q_rows * D);
        assert_close (got4, want_b, (gsize) q_rows * D, 1e-5);
        if (keep) {
          float *got4_cls = buffer_read (bmean, (gsize) M * M + H * M);
          for (guint h = 0; h < H; h++)
            assert_close (got4_cls + M * M + h * M, probs_b + (gsize) h * M * M, M, 1e-5);
          g_free (got4_cls);
        }
        g_free (got4);
        heed_buffer_destroy (&bout4);
        heed_recorder_destroy (&rec);
      }
    heed_buffer_destroy (&bbias);
    g_free (bias), g_free (want_b), g_free (probs_b), g_free (padded);

    heed_attention_scratch_clear (&sc);
    heed_buffer_destroy (&bqkv), heed_buffer_destroy (&bout), heed_buffer_destroy (&bmean);
    g_free (qkv), g_free (want), g_free (probs), g_free (want_mean), g_free (got);
    g_free (got_mean);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* A batch's frames in one attention dispatch (the blocks whose probabilities are not kept):
 * each frame's output against the reference, frames M rows apart from a first row past 0, and
 * the rows before it and after the last frame left as they were. */
static void
test_attention_frames (void)
{
  HeedDevice *d = get_device ();
  /* tokens, dim, heads, frames, and the inputs' amplitude: at 10 the scores pass 100, and
   * exp (88 at most in float32) overflows unless every row's true maximum is subtracted */
  const guint cases[][5] = {
    { 197, 192, 3, 3, 2 }, { 10, 64, 1, 4, 2 }, { 50, 128, 4, 2, 2 }, { 197, 192, 3, 2, 10 }
  };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++) {
    guint M = cases[s][0], D = cases[s][1], H = cases[s][2], F = cases[s][3], row = 3;
    GRand *rng = g_rand_new_with_seed (s + 70);
    gsize n_qkv = heed_attention_qkv_floats (kernels (), row + F * M, D);
    float amp = (float) cases[s][4];
    float *qkv = random_floats (rng, n_qkv, -amp, amp);
    HeedBuffer *bqkv = buffer_from (d, qkv, n_qkv, 0);
    /* lavapipe's tables and the GPUs' have it (/ops/kernel-table) */
    if (!heed_attention_takes_frames (kernels (), bqkv, D, H)) {
      g_test_skip ("this kernel table has no one-dispatch attention");
      heed_buffer_destroy (&bqkv), g_free (qkv), g_rand_free (rng);
      return;
    }
    gsize n_out = (gsize) (row + F * M + 8) * D;
    float *sentinel = g_new (float, n_out);
    for (gsize i = 0; i < n_out; i++)
      sentinel[i] = 7.0f;
    HeedBuffer *bout = buffer_from (d, sentinel, n_out, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_attention_frames (rec, bqkv, bout, row, M, F, D, H, "attn", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    float *got = buffer_read (bout, n_out);
    float *want = g_new (float, (gsize) M *D), *probs = g_new (float, (gsize) H *M *M);
    for (guint f = 0; f < F; f++) {
      heed_ref_attention (qkv + (gsize) (row + f * M) * 3 * D, NULL, want, probs, M, D, H);
      /* float32's error grows with the scores */
      assert_close (got + (gsize) (row + f * M) * D, want, (gsize) M * D, amp > 2 ? 1e-4 : 1e-5);
    }
    for (gsize i = 0; i < n_out; i++)
      if (i < (gsize) row * D || i >= (gsize) (row + F * M) * D)
        g_assert_cmpfloat (got[i], ==, 7.0f);
    heed_recorder_destroy (&rec);
    heed_buffer_destroy (&bqkv), heed_buffer_destroy (&bout);
    g_free (qkv), g_free (sentinel), g_free (got), g_free (want), g_free (probs);
    g_rand_free (rng);
  }
  /* with a bias on the scores, frame f's window f % windows's: Swin's windows of 49 tokens (3
   * heads of 32, a frame of 3 windows twice), BEiT's one table for every frame, heads of 64
   * from the second frame on, more rows than a workgroup takes; and more frames than a dispatch
   * takes (the device's largest workgroup count, the dispatches cut at whole frames of windows) */
  guint most = d->props.limits.maxComputeWorkGroupCount[2];
  const guint biased[][6] = {
    /* M, D, heads, windows, frames, first row */
    { 49, 96, 3, 3, 6, 0 },
    { 50, 128, 4, 1, 2, 0 },
    { 130, 128, 2, 2, 4, 130 },
    { 4, 8, 2, 2, most + 4, 0 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (biased); s++) {
    guint M = biased[s][0], D = biased[s][1], H = biased[s][2], W = biased[s][3];
    guint F = biased[s][4], row = biased[s][5];
    GRand *rng = g_rand_new_with_seed (s + 90);
    gsize n_qkv = heed_attention_qkv_floats (kernels (), row + F * M, D), per = 0;
    float *qkv = random_floats (rng, n_qkv, -2, 2);
    float *bias = random_floats (rng, (gsize) W * H * M * M, -3, 3);
    GArray *padded = g_array_new (FALSE, FALSE, sizeof (float));
    for (guint w = 0; w < W; w++) {
      float *one =
          heed_attention_bias_padded (kernels (), bias + (gsize) w * H * M * M, M, H, &per);
      g_array_append_vals (padded, one, per);
      g_free (one);
    }
    HeedBuffer *bqkv = buffer_from (d, qkv, n_qkv, 0);
    HeedBuffer *bbias = buffer_from (d, (float *) padded->data, padded->len, 0);
    HeedBuffer *bout = buffer_from (d, NULL, 0, (gsize) (row + F * M) * D);
    /* every table with the one-dispatch attention has its bias variant */
    g_assert_cmpint (heed_attention_takes_frames_bias (kernels (), bqkv, bbias, D, H), ==,
                     heed_attention_takes_frames (kernels (), bqkv, D, H));
    if (heed_attention_takes_frames (kernels (), bqkv, D, H)) {
      HeedRecorder *rec = heed_recorder_new (d, kernels (), 2, FALSE, &error);
      g_assert_true (heed_op_attention_frames_bias (rec, bqkv, bbias, W, bout, row, M, F, D, H,
                                                    "attn", &error));
      g_assert_no_error (error);
      run_recorder (rec);
      heed_recorder_destroy (&rec);
      float *got = buffer_read (bout, (gsize) (row + F * M) * D);
      float *want = g_new (float, (gsize) M *D);
      for (guint f = 0; f < F; f++) {
        gsize at = (gsize) (row + f * M);
        heed_ref_attention (qkv + at * 3 * D, bias + (gsize) (f % W) * H * M * M, want, NULL, M, D,
                            H);
        assert_close (got + at * D, want, (gsize) M * D, 1e-5);
      }
      g_free (got), g_free (want);
    }
    heed_buffer_destroy (&bqkv), heed_buffer_destroy (&bout), heed_buffer_destroy (&bbias);
    g_array_unref (padded);
    g_free (qkv), g_free (bias);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* The mean over heads of rows of probabilities (heads `batch` floats apart, rows `ld`), the
 * output's rows out_ld apart from a float past 0 (a Swin window's received attention among a
 * frame's): each row against the mean in C, the floats between rows left as they were */
static void
test_head_mean (void)
{
  HeedDevice *d = get_device ();
  /* rows, N, heads, ld, batch, out_ld */
  const guint cases[][6] = { { 3, 49, 24, 52, 49 * 52, 196 },
                             { 1, 197, 3, 200, 200, 197 },
                             { 4, 5, 2, 5, 20, 9 } };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++) {
    guint R = cases[s][0], N = cases[s][1], H = cases[s][2], ld = cases[s][3];
    guint batch = cases[s][4], out_ld = cases[s][5], off = 7;
    GRand *rng = g_rand_new_with_seed (s + 170);
    gsize n_in = (gsize) (H - 1) * batch + (gsize) (R - 1) * ld + N + 3;
    gsize n_out = off + (gsize) R * out_ld + 5;
    float *in = random_floats (rng, n_in, 0, 1), *sentinel = g_new (float, n_out);
    for (gsize i = 0; i < n_out; i++)
      sentinel[i] = 7.0f;
    HeedBuffer *bin = buffer_from (d, in, n_in, 0), *bout = buffer_from (d, sentinel, n_out, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 1, FALSE, &error);
    g_assert_true (heed_op_head_mean_strided (rec, (HeedMat){ bin, 3, ld, batch }, bout, off,
                                              out_ld, R, N, H, "mean", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    heed_recorder_destroy (&rec);
    float *got = buffer_read (bout, n_out);
    for (gsize i = 0; i < n_out; i++) {
      gsize at = i - off;
      if (i < off || at / out_ld >= R || at % out_ld >= N) {
        g_assert_cmpfloat (got[i], ==, 7.0f);
        continue;
      }
      double sum = 0;
      for (guint h = 0; h < H; h++)
        sum += in[3 + (gsize) h * batch + at / out_ld * ld + at % out_ld];
      g_assert_cmpfloat_with_epsilon (got[i], sum / H, 1e-6);
    }
    heed_buffer_destroy (&bin), heed_buffer_destroy (&bout);
    g_free (in), g_free (sentinel), g_free (got);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* The query rows that reach an output, every frame in one dispatch (the last block of a
 * class-token model, attention pooling, an average-pooled model's and Swin's last block): each
 * frame's first rows against the reference, their probabilities where HeedProbsOut says, every
 * other output row and every float around the probabilities left as they were. */
static void
test_attention_rows (void)
{
  HeedDevice *d = get_device ();
  guint most = d->props.limits.maxComputeWorkGroupCount[2];
  /* tokens, dim, heads, query rows, frames, first row, the bias's windows (0: none), the inputs'
   * amplitude, the rows whose probabilities are written, the frames a picture's windows: DeiT's
   * class row and its distillation row; fewer keys than the workgroup's 64 invocations; heads of
   * 80, 128 and 256 (5, 2 and 1 groups of columns' keys); at 10 the scores pass 100; BEiT's bias;
   * more keys than a multiple of 64; more frames than a dispatch takes; every row of an
   * average-pooled model; Swin's last block: two pictures of 4 windows of 49 tokens, shifted (a
   * bias a window) and not, the dispatches cut at whole pictures */
  const guint cases[][10] = {
    { 197, 192, 3, 1, 3, 0, 0, 2, 1, 1 },  { 198, 192, 3, 2, 2, 5, 0, 2, 1, 1 },
    { 10, 64, 1, 1, 4, 0, 0, 2, 1, 1 },    { 145, 320, 4, 1, 2, 0, 0, 2, 1, 1 },
    { 50, 256, 2, 2, 2, 0, 0, 2, 1, 1 },   { 37, 256, 1, 1, 2, 3, 0, 2, 1, 1 },
    { 197, 192, 3, 1, 2, 0, 0, 10, 1, 1 }, { 197, 768, 12, 1, 2, 0, 1, 2, 1, 1 },
    { 1370, 128, 2, 1, 1, 0, 0, 2, 1, 1 }, { 3, 8, 2, 2, most + 2, 0, 0, 2, 1, 1 },
    { 65, 128, 2, 65, 2, 1, 0, 2, 65, 1 }, { 49, 96, 3, 49, 8, 0, 4, 2, 49, 4 },
    { 49, 96, 3, 49, 8, 0, 1, 2, 49, 4 },  { 3, 8, 2, 3, most + 2, 0, 3, 2, 3, 3 },
  };
  GError *error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (cases); s++) {
    guint M = cases[s][0], D = cases[s][1], H = cases[s][2], Q = cases[s][3], F = cases[s][4];
    guint row = cases[s][5], BW = cases[s][6], PR = cases[s][8], W = cases[s][9];
    F += (W - F % W) % W; /* whole pictures */
    float amp = (float) cases[s][7];
    GRand *rng = g_rand_new_with_seed (s + 110);
    gsize n_qkv = heed_attention_qkv_floats (kernels (), row + F * M, D);
    float *qkv = random_floats (rng, n_qkv, -amp, amp);
    HeedBuffer *bqkv = buffer_from (d, qkv, n_qkv, 0);
    if (!heed_attention_takes_rows (kernels (), bqkv, M, D, H)) {
      /* every table heed builds has it (tests' variants without it run the old path) */
      g_assert_cmpint (kernels ()->attention_rows.shader, ==, HEED_SHADER_COUNT);
      heed_buffer_destroy (&bqkv), g_free (qkv), g_rand_free (rng);
      continue;
    }
    float *bias = BW ? random_floats (rng, (gsize) BW * H * M * M, -3, 3) : NULL;
    GArray *padded = g_array_new (FALSE, FALSE, sizeof (float));
    for (guint w = 0; w < BW; w++) {
      gsize per = 0;
      float *one =
          heed_attention_bias_padded (kernels (), bias + (gsize) w * H * M * M, M, H, &per);
      g_array_append_vals (padded, one, per);
      g_free (one);
    }
    HeedBuffer *bbias = bias ? buffer_from (d, (float *) padded->data, padded->len, 0) : NULL;
    gsize n_out = (gsize) (row + F * M + 8) * D, n_probs = (gsize) F * H * PR * M + 16;
    float *sentinel = g_new (float, MAX (n_out, n_probs));
    for (gsize i = 0; i < MAX (n_out, n_probs); i++)
      sentinel[i] = 7.0f;
    HeedBuffer *bout = buffer_from (d, sentinel, n_out, 0);
    HeedBuffer *bprobs = buffer_from (d, sentinel, n_probs, 0);
    HeedRecorder *rec = heed_recorder_new (d, kernels (), 2, FALSE, &error);
    /* the probabilities from float 8 on, the 8 before them left as they were */
    HeedProbsOut po = { bprobs, 8, PR, W };
    g_assert_true (heed_op_attention_rows (rec, bqkv, bbias, BW, bout, &po, row, M, Q, F, D, H,
                                           "attn", &error));
    g_assert_no_error (error);
    run_recorder (rec);
    heed_recorder_destroy (&rec);
    float *got = buffer_read (bout, n_out), *got_probs = buffer_read (bprobs, n_probs);
    float *want = g_new (float, (gsize) M *D), *probs = g_new (float, (gsize) H *M *M);
    /* float32's error grows with the scores */
    double tol = amp > 2 ? 1e-4 : 1e-5;
    for (guint f = 0; f < F; f++) {
      gsize at = row + (gsize) f * M;
      /* the reference for the frames a dispatch's cut falls between, and the first few */
      if (f > 8 && f + 3 < F && (f + 3 < most || f > most + 3))
        continue;
      heed_ref_attention (qkv + at * 3 * D, bias ? bias + (gsize) (f % BW) * H * M * M : NULL, want,
                          probs, M, D, H);
      assert_close (got + at * D, want, (gsize) Q * D, tol);
      for (gsize i = (at + Q) * D; i < (at + M) * D; i++)
        g_assert_cmpfloat (got[i], ==, 7.0f);
      for (guint h = 0; h < H; h++) {
        /* [picture][head][window][row][key] */
        gsize slot = ((gsize) (f / W) * H + h) * W + f % W;
        assert_close (got_probs + 8 + slot * PR * M, probs + (gsize) h * M * M, (gsize) PR * M,
                      tol);
      }
    }
    for (gsize i = 0; i < (gsize) row * D; i++)
      g_assert_cmpfloat (got[i], ==, 7.0f);
    for (gsize i = (row + (gsize) F * M) * D; i < n_out; i++)
      g_assert_cmpfloat (got[i], ==, 7.0f);
    for (gsize i = 0; i < 8; i++)
      g_assert_cmpfloat (got_probs[i], ==, 7.0f);
    for (gsize i = 8 + (gsize) F * H * PR * M; i < n_probs; i++)
      g_assert_cmpfloat (got_probs[i], ==, 7.0f);
    heed_buffer_destroy (&bqkv), heed_buffer_destroy (&bout), heed_buffer_destroy (&bprobs);
    if (bbias)
      heed_buffer_destroy (&bbias);
    g_array_unref (padded);
    g_free (qkv), g_free (bias), g_free (sentinel), g_free (got);
    g_free (got_probs), g_free (want), g_free (probs);
    g_rand_free (rng);
  }
  assert_no_validation_messages ();
}

/* ... with the device's table (on lavapipe the one-dispatch attention where the probabilities
 * are not kept), its row-kernel variant, its GEMMs storing C as floats, and without the
 * one-dispatch attention (Q.K^T, then P.V applying the softmax as it reads the scores: heads
 * wider than that kernel takes) */
static void
test_attention (void)
{
  const HeedKernels *own = &get_device ()->kernels;
  for_each_row_variant (attention_cases);
  if (heed_gemm_without_pairs (own->gemm_k4_bt.shader) != own->gemm_k4_bt.shader) {
    variant = float_stores (own);
    use_variant = TRUE;
    attention_cases ();
    use_variant = FALSE;
  }
  if (own->attention.shader != HEED_SHADER_COUNT) {
    variant = *own;
    variant.attention.shader = variant.attention_bias.shader = HEED_SHADER_COUNT;
    use_variant = TRUE;
    attention_cases ();
    use_variant = FALSE;
  }
  /* Q.K^T and P.V in the 40-row twins a plan of DeiT's 197 tokens takes at 16 lanes, C in pairs
   * and as floats */
  HeedKernels fitted;
  if (rows_40 (own, &fitted))
    for (int floats_c = 0; floats_c < 2; floats_c++) {
      variant = floats_c ? float_stores (&fitted) : fitted;
      variant.attention.shader = variant.attention_bias.shader = HEED_SHADER_COUNT;
      use_variant = TRUE;
      attention_cases ();
      use_variant = FALSE;
    }
  /* GPUs with less shared memory (attention_keys.comp, 64 invocations), or without subgroup
   * operations (attention_tiled.comp, which needs none) */
  if (own->attention.shader == HEED_SHADER_ATTENTION_FLASH) {
    const HeedShaderId smaller[] = { HEED_SHADER_ATTENTION_KEYS, HEED_SHADER_ATTENTION_TILED };
    for (guint i = 0; i < G_N_ELEMENTS (smaller); i++) {
      variant = *own;
      variant.attention = variant.attention_bias = (HeedKernel){ smaller[i], 64 };
      use_variant = TRUE;
      attention_cases ();
      test_attention_frames ();
      use_variant = FALSE;
    }
  }
}

/* The classification head: final LayerNorm of the CLS row, then a GEMV over the classes. */
static void
test_classification_head (void)
{
  HeedDevice *d = get_device ();
  guint D = 192, C = 1000, T = 5, ldw = heed_round_up (C, kernels ()->col_align);
  GRand *rng = g_rand_new_with_seed (40);
  GError *error = NULL;
  float *x = random_floats (rng, (gsize) T * D, -3, 3);
  float *g = random_floats (rng, D, 0.5, 1.5), *b = random_floats (rng, D, -1, 1);
  float *w = random_floats (rng, (gsize) D * ldw, -0.1, 0.1), *hb = random_floats (rng, C, -1, 1);
  float emb[192], want[1000];
  heed_ref_layernorm (x, D, emb, D, g, b, 1, D, 1e-6f);
  heed_ref_gemm (emb, D, w, ldw, want, C, 1, C, D, 1.0f, hb, 0);

  HeedBuffer *bx = buffer_from (d, x, (gsize) T * D, 0), *bg = buffer_from (d, g, D, 0);
  HeedBuffer *bb = buffer_from (d, b, D, 0), *bw = buffer_from (d, w, (gsize) D * ldw, 0);
  HeedBuffer *bhb = buffer_from (d, hb, C, 0);
  HeedBuffer *bemb = buffer_from (d, NULL, 0, (gsize) kernels ()->row_align * D);
  HeedBuffer *blog = buffer_from (d, NULL, 0, C);
  HeedRecorder *rec = heed_recorder_new (d, kernels (), 2, FALSE, &error);
  g_assert_true (heed_op_layernorm (rec, (HeedMat){ bx, 0, D, 0 }, (HeedMat){ bemb, 0, D, 0 }, bg,
                                    bb, 1, D, 1e-6f, HEED_NORM_LAYER, "norm", &error));
  g_assert_true (heed_op_gemm (rec, (HeedMat){ bemb, 0, D, 0 }, (HeedMat){ bw, 0, ldw, 0 },
                               (HeedMat){ blog, 0, C, 0 }, bhb, 1, C, D, 1, 1.0f, 0, "head", "head",
                               &error));
  run_recorder (rec);
  float *got = buffer_read (blog, C);
  assert_close (got, want, C, 2e-6);
  heed_recorder_destroy (&rec);
  HeedBuffer **all[] = { &bx, &bg, &bb, &bw, &bhb, &bemb, &blog };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    heed_buffer_destroy (all[i]);
  g_free (x), g_free (g), g_free (b), g_free (w), g_free (hb), g_free (got);
  g_rand_free (rng);
  assert_no_validation_messages ();
}

/* The runner on model m against the C reference forward on a random input (seeded): logits,
 * embedding and the map's heads; a Swin's cut into slices too, which must change nothing */
static void
compare_with_reference (HeedModel *m, guint32 seed)
{
  GError *error = NULL;
  const HeedModelConfig *c = &m->config;
  GRand *rng = g_rand_new_with_seed (seed);
  float *input = random_floats (rng, (gsize) 3 * c->img_size * c->img_size, -2, 2);
  float *logits = g_new (float, MAX (c->num_classes, 1)), *emb = g_new (float, c->dim);
  guint map_heads = heed_attention_map_heads (c);
  float *heads = g_new (float, map_heads * c->tokens);
  heed_ref_vit_forward (m, input, logits, emb, heads, NULL);
  HeedVitOptions opts = { 0 };
  HeedVitPlan *plan = heed_vit_plan_new (get_device (), m, &opts, &error);
  HeedVitRun *vit = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  HeedVitResult *o = heed_vit_run_tensor (vit, input, &error);
  g_assert_no_error (error);
  if (c->num_classes)
    assert_close (o->logits, logits, c->num_classes, 1e-4);
  assert_close (o->embedding, emb, c->dim, 1e-4);
  /* Swin V2's cosine attention scales each head's scores up to 100 (exp (logit_scale), cut
   * there): a float32 score then rounds by about 1e-5, and each probability by as much of
   * itself, on both sides apart. Measured, in the map: up to 4.9e-5 on lavapipe's kernels and
   * 1.05e-4 on the GPU tables' (hf_swinv2_f32, whose head sits at the cut); scores of plain
   * attention stay near 10, where 1e-4 holds with margin. */
  assert_close (o->cls_attention_heads, heads, map_heads * c->tokens, c->swin_v2 ? 4e-4 : 1e-4);
  if (c->swin_stages) { /* cut into slices, a stage's merging with its first block: the same */
    g_assert_true (heed_vit_run_set_slices (vit, 7, &error));
    g_assert_true (heed_vit_run_set_tensor (vit, 0, input, &error));
    g_assert_true (heed_vit_run_submit (vit, 1, &error));
    while (heed_vit_run_slices_left (vit) > 0)
      g_assert_true (heed_vit_run_step (vit, &error));
    HeedVitResult *sliced = NULL;
    g_assert_true (heed_vit_run_wait (vit, &sliced, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (sliced->logits, c->num_classes * 4, o->logits, c->num_classes * 4);
    g_assert_cmpmem (sliced->cls_attention_heads, map_heads * c->tokens * 4, o->cls_attention_heads,
                     map_heads * c->tokens * 4);
    heed_vit_result_destroy (&sliced);
  }
  heed_vit_result_destroy (&o);
  heed_vit_run_destroy (&vit);
  heed_vit_plan_destroy (&plan);
  g_free (input), g_free (logits), g_free (emb), g_free (heads);
  g_rand_free (rng);
}

/* The runner against the C reference forward on the layouts whose extra parts a random model
 * lacks: transformers' DINOv2 classifier (its head on the class token and the mean of the
 * normed patch tokens), DINOv2 with registers (positionless register rows; transformers' and
 * its own repository's names), at the size their preprocessor_config.json crops to, timm's
 * average pooling after the final norm (with and without a class token), its attention
 * pooling, transformers' SigLIP (its pooling head, and its classifier's mean token) and its
 * CLIPForImageClassification (the mean patch token without a norm), and BEiT's relative
 * position bias (timm's, transformers' BEiT and Data2VecVision with a shared table), and DINOv2
 * giant's SwiGLU MLP (timm's packed fc1, transformers' weights_in), and EVA-02's rotary position
 * embedding, split projections, MLP norm and its CLIP towers' attention norm, DINOv3's (timm's
 * and transformers') and RoPE-ViT's (axial, mixed) and the SBB ViTs' rotary embeddings,
 * SigLIP 2's NaFlex patch embedding, 8-wide heads (an OpenCLIP timm tower's), AIMv2's
 * RMSNorm, patch embedding norm and bias-less layers, BLIP-2's 16 heads of 8, and Swin's stages
 * (timm's and transformers': windows, shifted windows with their masks, patch merging; Swin
 * V2's cosine attention, MLP-made biases, norms after the attention and MLP and windows cut to
 * the grid). */
static void
test_vit_layouts_against_reference (void)
{
  const char *names[] = { "hf_dinov2_cls_f32", "hf_dinov2_reg_f32",     "dinov2_repo_reg_f32",
                          "vit_gap_norm_f32",  "vit_cls_gap_norm_f32",  "vit_map_f32",
                          "hf_siglip_f32",     "hf_siglip_cls_f32",     "hf_clip_cls_f32",
                          "beit_f32",          "hf_beit_f32",           "hf_data2vec_f32",
                          "dinov2_swiglu_f32", "hf_dinov2_swiglu_f32",  "eva02_tiny_f32",
                          "eva02_base_f32",    "eva02_clip_f32",        "dinov3_plus_f32",
                          "hf_dinov3_f32",     "rope_axial_f32",        "rope_sbb_f32",
                          "rope_mixed_f32",    "hf_siglip2_naflex_f32", "pe_core_f32",
                          "pe_spatial_f32",    "open_clip_trunk_f32",   "timm_aimv2_f32",
                          "hf_aimv2_f32",      "vit_intern_f32",        "hf_blip2_f32",
                          "swin_f32",          "hf_swin_f32",           "swinv2_f32",
                          "hf_swinv2_f32" };
  for (guint k = 0; k < G_N_ELEMENTS (names); k++) {
    GError *error = NULL;
    char *path = g_build_filename (g_getenv ("HEED_FIXTURES"), names[k], NULL);
    HeedModel *m = heed_model_load (path, &error);
    g_assert_no_error (error);
    compare_with_reference (m, 90 + k);
    /* Swin at twice its size: the same windows over grids twice as large, the last stage then
     * several windows (shifted), whose map the windows make together; swinv2_f32's last stage,
     * whose window of 8 its grid of 4 cut, then one window of 8, its biases made again */
    if (m->config.swin_stages) {
      guint last = m->config.swin_stages - 1, window = m->config.swin[last].window;
      g_assert_true (heed_model_set_input_size (m, 2 * m->config.img_size, &error));
      g_assert_cmpuint (m->config.swin[last].grid, ==, 2 * window);
      g_assert_cmpuint (m->config.swin[last].window, ==,
                        m->config.swin[last].model_window > window ? 2 * window : window);
      compare_with_reference (m, 190 + k);
      /* ... and at 1.25 times it, where a stage's windows do not tile its grid: the grid padded
       * to whole windows (timm's way or transformers', as the file's names say) */
      g_assert_true (heed_model_set_input_size (m, m->config.img_size * 5 / 8, &error));
      gboolean padded = FALSE;
      for (guint s = 0; s < m->config.swin_stages; s++)
        padded |= m->config.swin[s].padded > m->config.swin[s].grid;
      g_assert_true (padded);
      compare_with_reference (m, 290 + k);
    }
    /* transformers' BEiT at a larger grid: its tables resampled, the biases looked up again */
    if (m->rel_tables) {
      g_assert_true (
          heed_model_set_input_size (m, m->config.img_size + 2 * m->config.patch_size, &error));
      compare_with_reference (m, 390 + k);
    }
    heed_model_destroy (&m);
    g_free (path);
  }
  assert_no_validation_messages ();
}

/* The whole runner against the C reference forward, including every layer's head-averaged
 * attention (rollout's input), on a random model with odd sizes. */
static void
test_vit_against_reference (void)
{
  HeedDevice *d = get_device ();
  HeedModelConfig shape = { .img_size = 60,
                            .patch_size = 12,
                            .dim = 72,
                            .depth = 3,
                            .num_heads = 3,
                            .mlp_hidden = 200,
                            .num_classes = 13 };
  GError *error = NULL;
  HeedModel *m = heed_model_new_random (&shape, 7, &error);
  g_assert_no_error (error);
  const HeedModelConfig *c = &m->config;
  GRand *rng = g_rand_new_with_seed (50);
  float *input = random_floats (rng, 3 * 60 * 60, -2, 2);
  float *logits = g_new (float, c->num_classes), *emb = g_new (float, c->dim);
  float *heads = g_new (float, c->num_heads * c->tokens);
  float *layers = g_new (float, (gsize) c->depth * c->tokens * c->tokens);
  heed_ref_vit_forward (m, input, logits, emb, heads, layers);

  HeedVitOptions opts = { .layer_attention = TRUE, .profile = TRUE };
  HeedVitPlan *plan = heed_vit_plan_new (d, m, &opts, &error);
  g_assert_no_error (error);
  HeedVitRun *vit = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  HeedVitResult *o = NULL;
  for (int run = 0; run < 2; run++) { /* the recorded pass is reusable */
    heed_vit_result_destroy (&o);
    g_assert_nonnull (o = heed_vit_run_tensor (vit, input, &error));
    assert_close (o->logits, logits, c->num_classes, 1e-4);
    assert_close (o->embedding, emb, c->dim, 1e-4);
    assert_close (o->cls_attention_heads, heads, c->num_heads * c->tokens, 1e-4);
    assert_close (o->layer_attention, layers, (gsize) c->depth * c->tokens * c->tokens, 1e-4);
    float mean[25];
    for (guint j = 0; j < c->num_patches; j++) {
      double s = 0;
      for (guint h = 0; h < c->num_heads; h++)
        s += heads[h * c->tokens + 1 + j];
      mean[j] = (float) (s / c->num_heads);
    }
    assert_close (o->cls_attention, mean, c->num_patches, 1e-4);
  }
  /* cut into slices (a live pipeline runs one a frame): the same results, bit for bit, and
   * the slices go out one per step; at most one per half block, the preprocessing and the
   * patch embedding */
  for (guint slices = 2; slices <= 11; slices += 3) {
    g_assert_true (heed_vit_run_set_slices (vit, slices, &error));
    g_assert_cmpuint (heed_vit_run_get_slices (vit), ==, MIN (slices, 2 * c->depth + 2));
    g_assert_cmpuint (heed_vit_run_max_slices (vit), ==, 2 * c->depth + 2);
    g_assert_true (heed_vit_run_set_tensor (vit, 0, input, &error));
    g_assert_true (heed_vit_run_submit (vit, 1, &error));
    guint n = heed_vit_run_get_slices (vit);
    for (guint left = n - 1; left > 0; left--) {
      g_assert_cmpuint (heed_vit_run_slices_left (vit), ==, left);
      g_assert_false (heed_vit_run_is_done (vit)); /* the rest is not even submitted */
      g_assert_true (heed_vit_run_step (vit, &error));
    }
    g_assert_cmpuint (heed_vit_run_slices_left (vit), ==, 0);
    HeedVitResult *sliced = NULL;
    g_assert_true (heed_vit_run_wait (vit, &sliced, &error));
    g_assert_cmpmem (sliced->logits, c->num_classes * 4, o->logits, c->num_classes * 4);
    g_assert_cmpmem (sliced->layer_attention, (gsize) c->depth * c->tokens * c->tokens * 4,
                     o->layer_attention, (gsize) c->depth * c->tokens * c->tokens * 4);
    heed_vit_result_destroy (&sliced);
    /* and wait alone submits what is left in turn */
    g_assert_nonnull (sliced = heed_vit_run_tensor (vit, input, &error));
    g_assert_cmpmem (sliced->logits, c->num_classes * 4, o->logits, c->num_classes * 4);
    heed_vit_result_destroy (&sliced);
  }
  g_assert_true (heed_vit_run_set_slices (vit, 1, &error));
  /* top-k: the softmax's best classes, best first, and the threshold cuts the list */
  guint ids[5];
  double probs[5];
  guint nk = heed_vit_result_top_k (o, 5, 0.0, ids, probs);
  g_assert_cmpuint (nk, ==, 5);
  double z = 0;
  for (guint i = 0; i < c->num_classes; i++)
    z += exp (logits[i]);
  for (guint r = 0; r < 5; r++) {
    g_assert_cmpfloat_with_epsilon (probs[r], exp (logits[ids[r]]) / z, 1e-4);
    for (guint i = 0; i < c->num_classes; i++) /* nothing outside the list beats it */
      if (r == 4 && i != ids[0] && i != ids[1] && i != ids[2] && i != ids[3] && i != ids[4])
        g_assert_cmpfloat (logits[i], <=, logits[ids[4]] + 1e-4);
  }
  g_assert_cmpuint (heed_vit_result_top_k (o, 5, probs[1] - 1e-9, ids, probs), ==, 2);

  /* rollout: the CLS row of (A_L + I)/2 ... (A_1 + I)/2 by full matrix products */
  guint T = c->tokens;
  float want_roll[25], got_roll[25];
  {
    double *acc = g_new0 (double, T *T), *next = g_new (double, T *T);
    for (guint i = 0; i < T; i++)
      acc[i * T + i] = 1;
    for (guint l = 0; l < c->depth; l++) {
      for (guint i = 0; i < T; i++)
        for (guint j = 0; j < T; j++) {
          double v = 0;
          for (guint q = 0; q < T; q++)
            v += 0.5 * (layers[(gsize) l * T * T + i * T + q] + (i == q)) * acc[q * T + j];
          next[i * T + j] = v;
        }
      memcpy (acc, next, T * T * sizeof (double));
    }
    double sum = 0;
    for (guint j = 1; j < T; j++)
      sum += acc[j];
    for (guint j = 1; j < T; j++)
      want_roll[j - 1] = (float) (acc[j] / sum);
    g_free (acc);
    g_free (next);
  }
  guint peak = heed_vit_result_attention_map (o, HEED_ATTENTION_ROLLOUT, got_roll);
  assert_close (got_roll, want_roll, c->num_patches, 1e-4);
  for (guint j = 0; j < c->num_patches; j++)
    g_assert_cmpfloat (got_roll[j], <=, got_roll[peak]);

  guint n = o->n_timings;
  const HeedOpTiming *t = o->timings;
  g_assert_cmpuint (n, >, c->depth * 8);
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat (t[i].ms, >=, 0.0);
  /* a run of the same plan that does not time its dispatches (what heed bench's forward row
   * times): the same results, bit for bit, and no timings; timed again once set back */
  HeedVitRun *plain = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  heed_vit_run_set_profile (plain, FALSE);
  for (int pass = 0; pass < 2; pass++) {
    HeedVitResult *u = heed_vit_run_tensor (plain, input, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (u->logits, c->num_classes * 4, o->logits, c->num_classes * 4);
    g_assert_cmpuint (u->n_timings, ==, pass == 0 ? 0 : n);
    heed_vit_result_destroy (&u);
    heed_vit_run_set_profile (plain, TRUE);
  }
  heed_vit_run_destroy (&plain);

  heed_vit_result_destroy (&o);
  heed_vit_run_destroy (&vit);
  g_assert_null (vit);
  heed_vit_run_destroy (&vit); /* accepts &NULL */
  heed_vit_plan_destroy (&plan);
  heed_vit_plan_destroy (&plan);
  heed_model_destroy (&m);
  g_free (input), g_free (logits), g_free (emb), g_free (heads), g_free (layers);
  g_rand_free (rng);
  assert_no_validation_messages ();
}

/* F16 and BF16 decoding against the compiler's own conversions, every bit pattern. */
static void
test_half_conversions (void)
{
  for (guint32 i = 0; i < 65536; i++) {
    uint16_t h = (uint16_t) i;
    _Float16 f16;
    memcpy (&f16, &h, 2);
    float want = (float) f16, got = heed_f16_to_f32 (h);
    if (isnan (want))
      g_assert_true (isnan (got));
    else
      g_assert_cmpmem (&got, 4, &want, 4);
    if (!isnan (want))
      g_assert_cmpuint (heed_f32_to_f16 (want), ==, h);
    uint32_t bits = i << 16;
    float bf;
    memcpy (&bf, &bits, 4);
    got = heed_bf16_to_f32 (h);
    g_assert_cmpmem (&got, 4, &bf, 4);
  }
}

/* Values of got and want (normalised with std) that differ: none by more than one 8-bit code,
 * and few by one. Both round every pass to 8-bit codes, as Pillow does, and a sum that lands
 * within float error of a half code may round either way on the device. */
static void
assert_codes_match (const float *got, const float *want, gsize n, const float std[3],
                    const char *what)
{
  gsize per_channel = n / 3, off_by_one = 0;
  for (gsize i = 0; i < n; i++) {
    double codes = fabs (got[i] - want[i]) * std[i / per_channel] * 255.0;
    if (codes > 1.01)
      g_error ("%s: value %" G_GSIZE_FORMAT " differs by %.2f codes", what, i, codes);
    off_by_one += codes > 0.01;
  }
  if (off_by_one > n / 100)
    g_error ("%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " values differ by one code", what,
             off_by_one, n);
}

/* Preprocessing (colour conversion, resize, crop/letterbox, normalisation) against its C
 * reference, for every format, odd sizes, padded strides, all resize modes and filters; and
 * written as patch rows (a frame's way into the model), the same floats as patchify's cut of
 * the planes, to the bit. */
static void
test_preprocess (void)
{
  HeedDevice *d = get_device ();
  const guint sizes[][2] = { { 16, 16 }, { 37, 23 }, { 641, 479 }, { 7, 300 }, { 1, 1 } };
  const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
  const guint out = 32;
  GError *error = NULL;
  for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8; f++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (guint cut = 0; cut < 4; cut++) { /* the three resizes, then a checkpoint's crop */
        HeedResize r =
            cut < 3 ? (HeedResize) cut : (f % 2 ? HEED_RESIZE_CROP : HEED_RESIZE_STRETCH);
        guint w = sizes[s][0], h = sizes[s][1];
        guint stride[3] = { 4 * w + 8, w + 5, w + 7 }; /* padded, and not word multiples */
        HeedFrameLayout l;
        g_assert_true (heed_frame_layout_init (&l, f, w, h, stride, &error));
        l.resize = r;
        l.crop_fraction = cut < 3 ? 1.0f : 0.875f;
        l.matrix = (HeedYuvMatrix) ((f + s) % 3);
        l.full_range = (f + r) % 2;
        l.interpolation = (HeedInterpolation) ((f + s + cut) % (HEED_INTERPOLATION_HEED_BOX8 + 1));
        l.crop_rounding = (HeedCropRounding) (s % 2);
        GRand *rng = g_rand_new_with_seed (f * 100 + s * 10 + cut);
        guint8 *frame = g_malloc0 (l.size + 4);
        for (gsize i = 0; i < l.size; i++)
          frame[i] = (guint8) g_rand_int_range (rng, 0, 256);
        float *want = g_new (float, 3 * out * out);
        heed_ref_preprocess (&l, frame, mean, std, out, want);

        float params[18];
        heed_frame_params (&l, mean, std, params);
        HeedBuffer *bf = heed_buffer_new (d, l.size + 4, TRUE, &error);
        memcpy (bf->mapped, frame, l.size);
        HeedBuffer *bp = heed_buffer_new (d, sizeof params, TRUE, &error);
        memcpy (bp->mapped, params, sizeof params);
        HeedBuffer *rows = heed_buffer_new (d, heed_frame_rows_bytes (&l, out), FALSE, &error);
        HeedBuffer *bo = buffer_from (d, NULL, 0, 3 * out * out);
        HeedBuffer *rows2 = heed_buffer_new (d, heed_frame_rows_bytes (&l, out), FALSE, &error);
        HeedBuffer *bpatch = buffer_from (d, NULL, 0, 4 + 3 * out * out); /* from float 4 */
        HeedRecorder *rec = heed_recorder_new (d, kernels (), 4, FALSE, &error);
        g_assert_true (heed_op_preprocess (rec, &l, bf, bp, rows, bo, out, &error));
        g_assert_true (
            heed_op_preprocess_patches (rec, &l, bf, bp, rows2, bpatch, 4, out, 8, &error));
        run_recorder (rec);
        float *got = buffer_read (bo, 3 * out * out);
        float *got_patches = buffer_read (bpatch, 4 + 3 * out * out);
        float *cut_planes = g_new (float, 3 * out * out);
        heed_ref_patchify (got, 3, out, out, 8, cut_planes);
        g_assert_cmpmem (got_patches + 4, 3 * out * out * sizeof (float), cut_planes,
                         3 * out * out * sizeof (float));
        for (guint i = 0; i < 4; i++) /* nothing before the offset */
          g_assert_cmpfloat (got_patches[i], ==, 0.0f);
        g_free (got_patches), g_free (cut_planes);
        heed_buffer_destroy (&bpatch), heed_buffer_destroy (&rows2);
        char *what = g_strdup_printf ("format %d, %ux%u, resize %d, crop %g, %s", f, w, h, r,
                                      l.crop_fraction, heed_interpolation_name (l.interpolation));
        assert_codes_match (got, want, 3 * out * out, std, what);
        g_free (what);
        heed_recorder_destroy (&rec);
        heed_buffer_destroy (&bf), heed_buffer_destroy (&bp), heed_buffer_destroy (&bo);
        heed_buffer_destroy (&rows);
        g_free (frame), g_free (want), g_free (got);
        g_rand_free (rng);
      }
  assert_no_validation_messages ();
}

/* The reference itself on frames whose answer is known without it: a flat colour stays that
 * colour through any resize (RGB and BT.601 limited-range YUV), and letterbox bars are black. */
static void
test_preprocess_reference (void)
{
  const float mean[3] = { 0, 0, 0 }, std[3] = { 1, 1, 1 };
  const guint out = 8;
  float got[3 * 8 * 8];
  GError *error = NULL;
  struct {
    HeedPixelFormat f;
    guint8 px[4];
    float rgb[3];
  } cases[] = {
    { HEED_PIXEL_RGBA, { 255, 128, 0, 7 }, { 1.0f, 128 / 255.0f, 0.0f } },
    { HEED_PIXEL_BGRX, { 255, 128, 0, 7 }, { 0.0f, 128 / 255.0f, 1.0f } },
    { HEED_PIXEL_XRGB, { 7, 10, 20, 30 }, { 10 / 255.0f, 20 / 255.0f, 30 / 255.0f } },
    { HEED_PIXEL_XBGR, { 7, 10, 20, 30 }, { 30 / 255.0f, 20 / 255.0f, 10 / 255.0f } },
    { HEED_PIXEL_GRAY8, { 51, 51, 51, 51 }, { 0.2f, 0.2f, 0.2f } },
    /* BT.601 limited: Y=81 U=90 V=240 is red; Y=235 U=V=128 white; Y=16 black */
    { HEED_PIXEL_I420, { 81, 90, 240, 0 }, { 1.0f, 0.0f, 0.0f } },
    { HEED_PIXEL_NV12, { 235, 128, 128, 0 }, { 1.0f, 1.0f, 1.0f } },
    { HEED_PIXEL_YUY2, { 16, 128, 128, 0 }, { 0.0f, 0.0f, 0.0f } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    guint w = 20, h = 12, stride[3] = { 4 * w, w, w };
    HeedFrameLayout l;
    g_assert_true (heed_frame_layout_init (&l, cases[c].f, w, h, stride, &error));
    guint8 *frame = g_malloc0 (l.size);
    for (guint p = 0; p < l.n_planes; p++)
      for (guint y = 0; y < l.rows[p]; y++)
        for (guint x = 0; x < l.row_bytes[p]; x++) {
          guint8 v;
          if (cases[c].f == HEED_PIXEL_I420)
            v = cases[c].px[p];
          else if (cases[c].f == HEED_PIXEL_NV12)
            v = p == 0 ? cases[c].px[0] : cases[c].px[1 + x % 2];
          else if (cases[c].f == HEED_PIXEL_YUY2)
            v = (x % 2 == 0) ? cases[c].px[0] : cases[c].px[x % 4 == 1 ? 1 : 2];
          else if (cases[c].f == HEED_PIXEL_GRAY8)
            v = cases[c].px[0];
          else
            v = cases[c].px[x % 4];
          frame[l.offset[p] + (gsize) y * l.stride[p] + x] = v;
        }
    for (HeedResize r = HEED_RESIZE_STRETCH; r <= HEED_RESIZE_LETTERBOX; r++) {
      l.resize = r;
      heed_ref_preprocess (&l, frame, mean, std, out, got);
      for (guint y = 0; y < out; y++)
        for (guint x = 0; x < out; x++)
          for (guint k = 0; k < 3; k++) {
            /* letterbox of 20x12 into 8x8: 12 * 8 / 20 = 4.8 rows round to 5, placed from
             * row (8 - 5) / 2 = 1; rows 0, 6 and 7 are bars */
            gboolean bar = r == HEED_RESIZE_LETTERBOX && (y < 1 || y >= 6);
            float want = bar ? 0.0f : cases[c].rgb[k];
            /* one 8-bit code: the textbook YUV of red is (81, 90, 240), R = 0.9978 */
            g_assert_cmpfloat_with_epsilon (got[k * out * out + y * out + x], want, 4e-3);
          }
    }
    g_free (frame);
  }
  /* geometry maps the model's centre to the frame's centre in every mode, and crop's corner
   * to the cropped square's corner */
  HeedFrameLayout l;
  guint stride[3] = { 4 * 640, 0, 0 };
  g_assert_true (heed_frame_layout_init (&l, HEED_PIXEL_RGBA, 640, 480, stride, &error));
  float fx, fy;
  for (HeedResize r = HEED_RESIZE_STRETCH; r <= HEED_RESIZE_LETTERBOX; r++) {
    l.resize = r;
    heed_frame_point_from_model (&l, 224, 112, 112, &fx, &fy);
    g_assert_cmpfloat_with_epsilon (fx, 0.5, 1e-6);
    g_assert_cmpfloat_with_epsilon (fy, 0.5, 1e-6);
  }
  /* torchvision's steps: the shorter side to 224, the longer to int (224 * 640 / 480) = 298,
   * then a centre crop from column round (74 / 2) = 37 */
  l.resize = HEED_RESIZE_CROP;
  heed_frame_point_from_model (&l, 224, 0, 0, &fx, &fy);
  g_assert_cmpfloat_with_epsilon (fx, 37.0 / 298, 1e-6);
  g_assert_cmpfloat_with_epsilon (fy, 0.0, 1e-6);
  /* a checkpoint's crop_pct 0.875: the shorter side to 256 (640 x 480 -> 341 x 256), a centre
   * crop from (round (117 / 2), 16) = (58, 16): Python rounds 58.5 to the even 58 */
  float region[4];
  l.crop_fraction = 0.875f;
  heed_frame_point_from_model (&l, 224, 0, 0, &fx, &fy);
  g_assert_cmpfloat_with_epsilon (fx, 58.0 / 341, 1e-6);
  g_assert_cmpfloat_with_epsilon (fy, 16.0 / 256, 1e-6);
  heed_frame_model_region (&l, 224, region);
  g_assert_cmpfloat_with_epsilon (region[0], 58.0 / 341, 1e-6);
  g_assert_cmpfloat_with_epsilon (region[3], 224.0 / 256, 1e-6);
  /* 1920 x 1080 -> 455 x 256: a margin of 231 columns starts the crop at 116 for torchvision
   * (115.5 to even) and at 115 for transformers (rounded down) */
  HeedFrameLayout hd;
  guint hd_stride[3] = { 4 * 1920, 0, 0 };
  g_assert_true (heed_frame_layout_init (&hd, HEED_PIXEL_RGBA, 1920, 1080, hd_stride, &error));
  hd.resize = HEED_RESIZE_CROP;
  hd.crop_fraction = 0.875f;
  heed_frame_point_from_model (&hd, 224, 0, 0, &fx, &fy);
  g_assert_cmpfloat_with_epsilon (fx, 116.0 / 455, 1e-6);
  hd.crop_rounding = HEED_CROP_ROUND_DOWN;
  heed_frame_point_from_model (&hd, 224, 0, 0, &fx, &fy);
  g_assert_cmpfloat_with_epsilon (fx, 115.0 / 455, 1e-6);
  /* squashed, then cropped: 0.875 of each side */
  l.resize = HEED_RESIZE_STRETCH;
  heed_frame_model_region (&l, 224, region);
  g_assert_cmpfloat_with_epsilon (region[0], 0.0625, 1e-6);
  g_assert_cmpfloat_with_epsilon (region[1], 0.0625, 1e-6);
  g_assert_cmpfloat_with_epsilon (region[2], 0.875, 1e-6);
  /* letterbox ignores it: the whole frame, 224 x 168 from row 28, with bars */
  l.resize = HEED_RESIZE_LETTERBOX;
  heed_frame_model_region (&l, 224, region);
  g_assert_cmpfloat_with_epsilon (region[0], 0.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (region[1], -80.0 / 480, 1e-6);
  g_assert_cmpfloat_with_epsilon (region[3], 640.0 / 480, 1e-6);
  /* bad layouts */
  g_assert_false (heed_frame_layout_init (&l, HEED_PIXEL_RGB, 0, 10, stride, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  guint narrow[3] = { 10, 10, 10 };
  g_assert_false (heed_frame_layout_init (&l, HEED_PIXEL_RGBA, 16, 16, narrow, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
}

/* An RGBA frame: a pattern of `kind` (0: diagonal bands, 1: rings, 2: blocks) in its colours,
 * shifted by `shift` pixels (motion), brightness added. */
static void
keyframe_frame (guint8 *f, guint w, guint h, guint kind, guint shift, int brightness)
{
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++) {
      guint u = x + shift, v;
      if (kind == 0)
        v = ((u + y) / 12) % 2 ? 200 : 40;
      else if (kind == 1)
        v = (guint) (sqrt ((double) ((int) u - 60) * ((int) u - 60) + (y - 40.0) * (y - 40.0)) /
                     9) %
                    2
                ? 230
                : 20;
      else
        v = ((u / 20) + (y / 16)) % 3 * 100;
      guint8 *p = f + 4 * ((gsize) y * w + x);
      int rgb[3] = { (int) v, kind == 1 ? 255 - (int) v : (int) v / 2, kind == 2 ? 90 : 30 };
      for (guint c = 0; c < 3; c++)
        p[c] = (guint8) CLAMP (rgb[c] + brightness, 0, 255);
      p[3] = 255;
    }
}

/* heedkeyframe's thumbnail (made on the host from the frame's planes) against the reference
 * (the preprocessing reference's colour conversion, from the packed frame), for every
 * format, odd and padded sizes, shrinking and enlarging. */
static void
test_thumbnail (void)
{
  const guint sizes[][2] = { { 640, 480 }, { 37, 23 }, { 7, 300 }, { 1, 1 }, { 1920, 1080 } };
  const guint out = 64;
  GError *error = NULL;
  for (HeedPixelFormat f = HEED_PIXEL_RGBA; f <= HEED_PIXEL_GRAY8; f++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      guint w = sizes[s][0], h = sizes[s][1];
      guint stride[3] = { 4 * w + 8, w + 5, w + 7 };
      HeedFrameLayout l;
      g_assert_true (heed_frame_layout_init (&l, f, w, h, stride, &error));
      l.matrix = (HeedYuvMatrix) ((f + s) % 3);
      l.full_range = (f + s) % 2;
      GRand *rng = g_rand_new_with_seed (f * 10 + s);
      guint8 *frame = g_malloc0 (l.size + 4);
      for (gsize i = 0; i < l.size; i++)
        frame[i] = (guint8) g_rand_int_range (rng, 0, 256);
      const guint8 *planes[3] = { frame + l.offset[0], frame + l.offset[1], frame + l.offset[2] };
      float *got = g_new (float, 3 * out * out), *want = g_new (float, 3 * out * out);
      g_assert_true (heed_frame_thumbnail (&l, planes, l.stride, out, got, &error));
      g_assert_no_error (error);
      heed_ref_thumbnail (&l, frame, out, want);
      for (guint i = 0; i < 3 * out * out; i++)
        if (fabsf (got[i] - want[i]) > 1e-5f)
          g_error ("format %d, %ux%u: value %u is %g, reference %g", f, w, h, i, got[i], want[i]);
      /* a missing plane is an error, not a read out of bounds */
      const guint8 *none[3] = { NULL, NULL, NULL };
      g_assert_false (heed_frame_thumbnail (&l, none, l.stride, out, got, &error));
      g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
      g_clear_error (&error);
      g_free (frame), g_free (got), g_free (want);
      g_rand_free (rng);
    }
}

/* A 64 x 64 thumbnail (RGB planes) of one colour. */
static void
flat_thumbnail (float *thumb, float r, float g, float b)
{
  for (guint i = 0; i < 64 * 64; i++)
    thumb[i] = r, thumb[64 * 64 + i] = g, thumb[2 * 64 * 64 + i] = b;
}

/* heedkeyframe's kernels against their C reference (the embedding in every ring slot, the
 * attention errors behind each novelty), and what novelty must say: nothing new within a
 * moving shot or across a brightness step, a lot at a cut, little for a one-frame flash. */
static void
test_keyframe (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  const guint w = 120, h = 90;
  guint stride[3] = { 4 * w, 0, 0 };
  HeedFrameLayout l;
  HeedKeyframeOptions o;
  heed_keyframe_options_init (&o);
  g_assert_true (heed_frame_layout_init (&l, HEED_PIXEL_RGBA, w, h, stride, &error));
  HeedKeyframeScorer *k = heed_keyframe_scorer_new (d, &o, &error);
  g_assert_no_error (error);
  g_assert_true (heed_keyframe_scorer_set_layout (k, &l, &error));
  guint slots = heed_keyframe_scorer_ring_slots (k);
  g_assert_cmpuint (slots, ==, o.window + o.persist + 1);

  /* 40 frames: shot A moving, a brightness step at 12, a one-frame flash at 20, a cut to
   * shot B at 30 */
  const guint n = 40, cut = 30, flash = 20;
  guint8 *frame = g_malloc ((gsize) 4 * w * h);
  float (*emb)[HEED_KEYFRAME_DIM] = g_malloc (sizeof (float[HEED_KEYFRAME_DIM]) * n);
  float *ring = g_new (float, (gsize) slots *HEED_KEYFRAME_DIM), *nov = g_new0 (float, n);
  float *thumb = g_new (float, 3 * 64 * 64);
  const guint cls_dim = 37;
  float (*cls)[37] = g_malloc (sizeof (float[37]) * n), cls_nov[40] = { 0 };
  for (guint t = 0; t < n; t++) {
    keyframe_frame (frame, w, h, t < cut ? 0 : 2, t, t >= 12 ? 25 : 0);
    if (t == flash)
      keyframe_frame (frame, w, h, 0, t, 120);
    const guint8 *planes[3] = { frame, NULL, NULL };
    float novelty;
    gboolean have;
    /* a CLS embedding (37 floats, another direction after the cut) on every frame but 15,
     * whose has a NaN in it: refused, as if none came */
    for (guint i = 0; i < cls_dim; i++)
      cls[t][i] = (float) (sin (0.3 * i + 0.05 * t + (t >= cut ? 2.0 : 0.0)) + 0.2);
    if (t != 15) {
      g_assert_true (heed_keyframe_scorer_push_cls (k, cls[t], cls_dim, &error));
    } else {
      float with_nan[37];
      memcpy (with_nan, cls[t], sizeof with_nan);
      with_nan[5] = NAN;
      g_assert_false (heed_keyframe_scorer_push_cls (k, with_nan, cls_dim, &error));
      g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
      g_clear_error (&error);
    }
    g_assert_true (heed_keyframe_scorer_push (k, planes, stride, &novelty, &have, &error));
    g_assert_no_error (error);
    g_assert_true (have == (t >= o.persist + HEED_KEYFRAME_MIN_HISTORY));
    /* the embedding: the reference on the reference thumbnail */
    heed_ref_thumbnail (&l, frame, 64, thumb);
    heed_ref_keyframe_features (thumb, emb[t]);
    g_assert_true (heed_keyframe_scorer_read_ring (k, ring, &error));
    const float *got = ring + (gsize) (t % slots) * HEED_KEYFRAME_DIM;
    for (guint i = 0; i < HEED_KEYFRAME_DIM; i++)
      if (fabsf (got[i] - emb[t][i]) > 2e-4f)
        g_error ("frame %u: embedding[%u] %g, reference %g", t, i, got[i], emb[t][i]);
    /* the last embedding and the thumbnail's mean colour, as heedclassify reads them */
    float last[HEED_KEYFRAME_DIM], mean_rgb[3];
    g_assert_true (heed_keyframe_scorer_last_embedding (k, last, mean_rgb, &error));
    g_assert_cmpmem (last, sizeof last, got, sizeof last);
    for (guint c = 0; c < 3; c++) {
      double sum = 0.0;
      for (guint i = 0; i < 64 * 64; i++)
        sum += thumb[c * 64 * 64 + i];
      g_assert_cmpfloat_with_epsilon (mean_rgb[c], sum / (64 * 64), 1e-4);
    }
    if (!have)
      continue;
    /* the novelty: the reference attention over the reference embeddings */
    guint c = t - o.persist, nw = MIN (o.window, c);
    const float *queries[16], *window[32];
    float errors[16 * 3], least = G_MAXFLOAT;
    for (guint q = 0; q <= o.persist; q++)
      queries[q] = emb[c + q];
    for (guint i = 0; i < nw; i++)
      window[i] = emb[c - nw + i];
    heed_ref_keyframe_attention (queries, o.persist + 1, window, nw, o.temperature, errors);
    for (guint q = 0; q <= o.persist; q++)
      least = MIN (least, (errors[3 * q] + errors[3 * q + 1] + errors[3 * q + 2]) / 3);
    g_assert_cmpfloat_with_epsilon (novelty, least, 1e-4);
    nov[c] = novelty;
    /* the CLS head: only when the window and the queries all gave an embedding */
    float cls_novelty;
    gboolean whole = c - nw > 15 || t < 15;
    g_assert_true (heed_keyframe_scorer_cls_novelty (k, &cls_novelty) == whole);
    if (whole) {
      float unit[16][64], cls_errors[16];
      const float *cq[16], *cw[32];
      for (guint f = c - nw; f <= t; f++) {
        double norm = 0;
        for (guint i = 0; i < cls_dim; i++)
          norm += cls[f][i] * cls[f][i];
        for (guint i = 0; i < cls_dim; i++)
          unit[f - (c - nw)][i] = (float) (cls[f][i] / sqrt (norm));
      }
      for (guint i = 0; i < nw; i++)
        cw[i] = unit[i];
      for (guint q = 0; q <= o.persist; q++)
        cq[q] = unit[nw + q];
      heed_ref_cls_attention (cq, o.persist + 1, cw, nw, cls_dim, o.temperature, cls_errors);
      float want = G_MAXFLOAT;
      for (guint q = 0; q <= o.persist; q++)
        want = MIN (want, cls_errors[q]);
      g_assert_cmpfloat_with_epsilon (cls_novelty, want, 1e-4);
      cls_nov[c] = cls_novelty;
    }
  }
  g_assert_cmpfloat (cls_nov[cut], >, 5 * cls_nov[cut - 3]);
  /* the embedding distance: 0 for the same picture, large across the cut, small within a shot
   * and between two flat grey pictures (their layout and edges have no structure) */
  float dark[HEED_KEYFRAME_DIM], light[HEED_KEYFRAME_DIM];
  flat_thumbnail (thumb, 0.2f, 0.2f, 0.2f);
  heed_ref_keyframe_features (thumb, dark);
  flat_thumbnail (thumb, 0.8f, 0.8f, 0.8f);
  heed_ref_keyframe_features (thumb, light);
  g_assert_cmpfloat (heed_keyframe_embedding_distance (emb[5], emb[5]), <, 1e-5);
  g_assert_cmpfloat (heed_keyframe_embedding_distance (dark, light), <, 1e-5);
  g_assert_cmpfloat (heed_keyframe_embedding_distance (emb[cut - 1], emb[cut]), >,
                     5 * heed_keyframe_embedding_distance (emb[cut - 2], emb[cut - 1]));
  g_test_message ("flat against shot B %.3f", heed_keyframe_embedding_distance (dark, emb[cut]));
  g_assert_cmpfloat (heed_keyframe_embedding_distance (dark, emb[cut]), >, 0.5);
  /* every head has length 1 */
  for (guint head = 0; head < HEED_KEYFRAME_HEADS; head++) {
    double len = 0;
    for (guint i = heed_keyframe_head_offset[head]; i < heed_keyframe_head_offset[head + 1]; i++)
      len += emb[5][i] * emb[5][i];
    g_assert_cmpfloat_with_epsilon (len, 1.0, 1e-4);
  }
  /* a texture of independent pixel noise has next to no layout or edge structure (its length
   * goes to the last component), while shot B's blocks, a layout, keep most of it (shot A's
   * fine stripes are a texture to the 8 x 8 cells as well) */
  GRand *rand = g_rand_new_with_seed (7);
  for (guint i = 0; i < 64 * 64; i++) {
    float v = g_rand_boolean (rand) ? 0.9f : 0.1f;
    thumb[i] = thumb[64 * 64 + i] = thumb[2 * 64 * 64 + i] = v;
  }
  g_rand_free (rand);
  float noise[HEED_KEYFRAME_DIM];
  heed_ref_keyframe_features (thumb, noise);
  const guint layout_end = heed_keyframe_head_offset[1] - 1, edges_end = HEED_KEYFRAME_DIM - 1;
  g_test_message ("last component: noise layout %.3f, edges %.3f; shot A layout %.3f, shot B "
                  "layout %.3f, edges %.3f",
                  noise[layout_end], noise[edges_end], emb[5][layout_end], emb[cut][layout_end],
                  emb[cut][edges_end]);
  g_assert_cmpfloat (noise[layout_end], >, 0.9);
  /* less for the edges: neighbouring gradients share pixels, so their cell means vary more
   * than independent samples would, and some of that passes for structure */
  g_assert_cmpfloat (noise[edges_end], >, 0.7);
  g_assert_cmpfloat (emb[cut][layout_end], <, 0.5);
  g_assert_cmpfloat (emb[cut][edges_end], <, noise[edges_end] - 0.2);
  /* a colour drifting across the edge of a histogram bin moves the colour head by a little
   * (Cb = -0.25 is one: each pixel is shared between the nearest bin centres) */
  float below[HEED_KEYFRAME_DIM], above[HEED_KEYFRAME_DIM];
  for (guint side = 0; side < 2; side++) {
    float cb = side ? -0.249f : -0.251f; /* Y 0.5, Cr 0 */
    flat_thumbnail (thumb, 0.5f, 0.5f - 0.344136f * cb, 0.5f + 1.772f * cb);
    heed_ref_keyframe_features (thumb, side ? above : below);
  }
  float colour_cos = 0;
  for (guint i = heed_keyframe_head_offset[1]; i < heed_keyframe_head_offset[2]; i++)
    colour_cos += below[i] * above[i];
  g_assert_cmpfloat (1 - colour_cos, <, 0.01);
  /* what it must say: the cut stands out of its shot, and is the peak among the frames after
   * it, whose windows still hold some of the old shot (which the softmax's temperature lets
   * count a little) */
  float quiet = 0;
  for (guint c = HEED_KEYFRAME_MIN_HISTORY; c < cut; c++)
    quiet = MAX (quiet, nov[c]);
  for (guint c = cut + 1; c + o.persist < n; c++)
    g_assert_cmpfloat (nov[c], <, nov[cut] / 2);
  g_test_message (
      "novelty at the cut %.3f; the most in the shot before it %.3f (flash at %u: %.3f, "
      "brightness step at 12: %.3f)",
      nov[cut], quiet, flash, nov[flash], nov[12]);
  g_assert_cmpfloat (nov[cut], >, 0.3);
  g_assert_cmpfloat (nov[cut], >, 5 * quiet);
  /* the importance: half at four times the recent median */
  float recent[10];
  for (guint i = 0; i < 10; i++)
    recent[i] = 0.05f;
  g_assert_cmpfloat_with_epsilon (heed_keyframe_importance (4 * 0.07f, recent, 10), 0.5, 1e-5);
  g_assert_cmpfloat (heed_keyframe_importance (0.0f, recent, 10), ==, 0.0f);
  /* per head, each against its own median (0.05, 0.30, 0.00 + the 0.02 floor): half when the
   * ratios average four, whichever head carries them */
  float heads_recent[10][HEED_KEYFRAME_HEADS];
  for (guint i = 0; i < 10; i++)
    heads_recent[i][0] = 0.05f, heads_recent[i][1] = 0.3f, heads_recent[i][2] = 0.0f;
  const float even[3] = { 4 * 0.07f, 4 * 0.32f, 4 * 0.02f }, colour_only[3] = { 0, 12 * 0.32f, 0 };
  const float layout_at_colour_bar[3] = { 4 * 0.32f, 0, 0 };
  g_assert_cmpfloat_with_epsilon (
      heed_keyframe_heads_importance (even, &heads_recent[0][0], 10, NULL, NULL, 0), 0.5, 1e-5);
  g_assert_cmpfloat_with_epsilon (
      heed_keyframe_heads_importance (colour_only, &heads_recent[0][0], 10, NULL, NULL, 0), 0.5,
      1e-5);
  /* the CLS head as a fourth, against its own median (0.10): half when it too is at four */
  const float cls_recent[10] = { 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f };
  const float cls_at_four = 4 * 0.12f, cls_still = 0.0f;
  g_assert_cmpfloat_with_epsilon (
      heed_keyframe_heads_importance (even, &heads_recent[0][0], 10, &cls_at_four, cls_recent, 10),
      0.5, 1e-5);
  g_assert_cmpfloat (
      heed_keyframe_heads_importance (even, &heads_recent[0][0], 10, &cls_still, cls_recent, 10), <,
      0.45);
  /* a head is not held to another's bar: 1.28 is four times the colours' usual, but more
   * than eighteen times the layout's */
  g_assert_cmpfloat (
      heed_keyframe_heads_importance (layout_at_colour_bar, &heads_recent[0][0], 10, NULL, NULL, 0),
      >, 0.6);
  g_free (frame), g_free (emb), g_free (ring), g_free (nov), g_free (thumb), g_free (cls);
  heed_keyframe_scorer_destroy (&k);
  assert_no_validation_messages ();
}

/* The log-mel shader against its C reference (a DFT in double), the resampler's rate, and
 * the spectral flux: quiet noise, then a 1 kHz tone that starts at 0.5 s: one clear peak. */
static void
test_logmel (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedAudioFeatures *a = heed_audio_features_new (d, &error);
  g_assert_no_error (error);
  const guint rate = 48000, n = rate; /* one second at 48 kHz */
  float *in = g_new (float, n);
  GRand *rng = g_rand_new_with_seed (5);
  for (guint i = 0; i < n; i++)
    in[i] = 0.01f * (float) g_rand_double_range (rng, -1, 1) +
            (i >= n / 2 ? 0.5f * sinf (2 * (float) G_PI * 1000 * i / rate) : 0.0f);
  heed_audio_features_reset (a, rate);
  GArray *flux = g_array_new (FALSE, FALSE, sizeof (float));
  /* in uneven pieces, as buffers come */
  for (guint off = 0, piece = 1234; off < n; off += piece)
    g_assert_true (heed_audio_features_push (a, in + off, MIN (piece, n - off), flux, &error));
  /* 16000 samples: (16000 - 400) / 160 + 1 = 98 hops */
  g_assert_cmpuint (flux->len, ==, 98);
  guint peak = 0;
  float quiet = 0;
  for (guint i = 1; i < flux->len; i++)
    if (g_array_index (flux, float, i) > g_array_index (flux, float, peak))
      peak = i;
  for (guint i = 1; i < flux->len; i++)
    if (i + 3 < peak || i > peak + 3)
      quiet = MAX (quiet, g_array_index (flux, float, i));
  g_test_message ("flux peak %.2f at hop %u (%.3f s), elsewhere at most %.2f",
                  g_array_index (flux, float, peak), peak, (peak * 160 + 200) / 16000.0, quiet);
  /* the tone starts at 0.5 s: the first window that holds it starts 25 ms before */
  g_assert_cmpuint (peak, >=, 47);
  g_assert_cmpuint (peak, <=, 50);
  g_assert_cmpfloat (g_array_index (flux, float, peak), >, 5 * quiet);

  /* the shader against the reference, on the same 16 kHz windows */
  float window[HEED_AUDIO_WINDOW], want[HEED_AUDIO_MELS];
  heed_audio_features_reset (a, HEED_AUDIO_RATE);
  for (guint i = 0; i < HEED_AUDIO_WINDOW; i++)
    window[i] = 0.3f * sinf (2 * (float) G_PI * 440 * i / HEED_AUDIO_RATE) +
                0.05f * (float) g_rand_double_range (rng, -1, 1);
  g_array_set_size (flux, 0);
  g_assert_true (heed_audio_features_push (a, window, HEED_AUDIO_WINDOW, flux, &error));
  g_assert_cmpuint (flux->len, ==, 1);
  heed_ref_logmel (window, want);
  const float *got = heed_audio_features_last_logmel (a);
  for (guint m = 0; m < HEED_AUDIO_MELS; m++)
    if (fabsf (got[m] - want[m]) > 1e-3f * MAX (1.0f, fabsf (want[m])))
      g_error ("mel band %u: %g, reference %g", m, got[m], want[m]);
  g_array_unref (flux);
  g_rand_free (rng);
  g_free (in);
  heed_audio_features_destroy (&a);
  assert_no_validation_messages ();
}

/* Runs one-time commands on the test device. */
static void
submit_once (HeedDevice *d, void (*record) (VkCommandBuffer, gpointer), gpointer data)
{
  VkCommandPool pool = heed_command_pool_new (d, NULL);
  VkCommandBufferAllocateInfo ai = { VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, NULL, pool,
                                     VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1 };
  VkCommandBuffer cmd;
  g_assert_cmpint (vkAllocateCommandBuffers (d->device, &ai, &cmd), ==, VK_SUCCESS);
  VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
  vkBeginCommandBuffer (cmd, &bi);
  record (cmd, data);
  vkEndCommandBuffer (cmd);
  VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                      .commandBufferCount = 1,
                      .pCommandBuffers = &cmd };
  g_assert_cmpint (vkQueueSubmit (d->queue, 1, &si, VK_NULL_HANDLE), ==, VK_SUCCESS);
  vkQueueWaitIdle (d->queue);
  vkDestroyCommandPool (d->device, pool, NULL);
}

typedef struct {
  VkImage image;
  HeedBuffer *src;
  guint w, h;
} UploadImage;

static void
record_upload (VkCommandBuffer cmd, gpointer data)
{
  UploadImage *u = data;
  VkImageMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
    .dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
    .oldLayout = VK_IMAGE_LAYOUT_UNDEFINED,
    .newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
    .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
    .image = u->image,
    .subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
  };
  vkCmdPipelineBarrier (cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                        0, NULL, 0, NULL, 1, &b);
  VkBufferImageCopy region = { .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                               .imageExtent = { u->w, u->h, 1 } };
  vkCmdCopyBufferToImage (cmd, u->src->buffer, u->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                          &region);
  b.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
  b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  b.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
  vkCmdPipelineBarrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0,
                        0, NULL, 0, NULL, 1, &b);
}

/* A frame already on the device, as a VkImage (RGBA) and as a VkBuffer with its own stride
 * (NV12 planes), gives exactly what the same frame from host memory gives. */
static void
test_device_frames (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  HeedModelConfig shape = { .img_size = 32,
                            .patch_size = 8,
                            .dim = 32,
                            .depth = 1,
                            .num_heads = 2,
                            .mlp_hidden = 64,
                            .num_classes = 6 };
  HeedModel *m = heed_model_new_random (&shape, 21, &error);
  HeedVitPlan *plan = heed_vit_plan_new (d, m, NULL, &error);
  g_assert_no_error (error);
  HeedVitRun *vit = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  HeedVitResult *res;
  guint w = 45, h = 27;
  GRand *rng = g_rand_new_with_seed (77);

  /* RGBA in a VkImage */
  guint stride[3] = { 4 * w, 0, 0 };
  HeedFrameLayout l;
  g_assert_true (heed_frame_layout_init (&l, HEED_PIXEL_RGBA, w, h, stride, &error));
  guint8 *rgba = g_malloc (4 * w * h);
  for (guint i = 0; i < 4 * w * h; i++)
    rgba[i] = (guint8) g_rand_int_range (rng, 0, 256);
  g_assert_true (heed_vit_run_set_frame_layout (vit, &l, &error));
  const guint8 *planes[3] = { rgba, NULL, NULL };
  g_assert_nonnull (res = run_frame_sync (vit, planes, stride, &error));
  float want[6];
  memcpy (want, res->logits, sizeof want);
  heed_vit_result_destroy (&res);

  VkImageCreateInfo ii = {
    .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
    .imageType = VK_IMAGE_TYPE_2D,
    .format = VK_FORMAT_R8G8B8A8_UNORM,
    .extent = { w, h, 1 },
    .mipLevels = 1,
    .arrayLayers = 1,
    .samples = VK_SAMPLE_COUNT_1_BIT,
    .tiling = VK_IMAGE_TILING_OPTIMAL,
    .usage = VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT |
             VK_IMAGE_USAGE_SAMPLED_BIT,
  };
  UploadImage up = { VK_NULL_HANDLE, heed_buffer_new (d, 4 * w * h, TRUE, &error), w, h };
  memcpy (up.src->mapped, rgba, 4 * w * h);
  g_assert_cmpint (vkCreateImage (d->device, &ii, NULL, &up.image), ==, VK_SUCCESS);
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements (d->device, up.image, &req);
  guint type = 0;
  while (!(req.memoryTypeBits & (1u << type)))
    type++;
  VkMemoryAllocateInfo mai = { VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, NULL, req.size, type };
  VkDeviceMemory mem;
  g_assert_cmpint (vkAllocateMemory (d->device, &mai, NULL, &mem), ==, VK_SUCCESS);
  vkBindImageMemory (d->device, up.image, mem, 0);
  submit_once (d, record_upload, &up);

  HeedDevicePlane dp = { .image = up.image,
                         .layout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
                         .access = VK_ACCESS_SHADER_READ_BIT,
                         .stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                         .width = w,
                         .height = h };
  g_assert_nonnull (res = run_device_frame_sync (vit, &dp, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (dp.layout, ==, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL); /* restored */
  g_assert_cmpmem (res->logits, sizeof want, want, sizeof want);
  heed_vit_result_destroy (&res);
  /* the staging moved to device-local memory for frames on the device, and back for a frame
   * from the host, with the same result each way */
  g_assert_true (heed_vit_run_frame_staging_on_device (vit));
  g_assert_nonnull (res = run_frame_sync (vit, planes, stride, &error));
  g_assert_false (heed_vit_run_frame_staging_on_device (vit));
  g_assert_cmpmem (res->logits, sizeof want, want, sizeof want);
  heed_vit_result_destroy (&res);
  g_assert_nonnull (res = run_device_frame_sync (vit, &dp, 1, &error));
  g_assert_cmpmem (res->logits, sizeof want, want, sizeof want);
  heed_vit_result_destroy (&res);
  HeedDevicePlane small = dp;
  small.height = h - 1;
  g_assert_null (run_device_frame_sync (vit, &small, 1, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);

  /* NV12 in VkBuffers with a stride of their own */
  guint nv_stride[3] = { w + 3, w + 3, 0 };
  g_assert_true (heed_frame_layout_init (&l, HEED_PIXEL_NV12, w, h, nv_stride, &error));
  guint dev_stride = w + 40;
  guint8 *y = g_malloc0 (dev_stride * h), *uv = g_malloc0 (dev_stride * ((h + 1) / 2));
  for (guint i = 0; i < dev_stride * h; i++)
    y[i] = (guint8) g_rand_int_range (rng, 0, 256);
  for (guint i = 0; i < dev_stride * ((h + 1) / 2); i++)
    uv[i] = (guint8) g_rand_int_range (rng, 0, 256);
  g_assert_true (heed_vit_run_set_frame_layout (vit, &l, &error));
  const guint8 *nv[3] = { y, uv, NULL };
  guint host_stride[3] = { dev_stride, dev_stride, 0 };
  g_assert_nonnull (res = run_frame_sync (vit, nv, host_stride, &error));
  memcpy (want, res->logits, sizeof want);
  heed_vit_result_destroy (&res);
  HeedBuffer *by = heed_buffer_new (d, 64 + dev_stride * h, FALSE, &error);
  HeedBuffer *buv = heed_buffer_new (d, dev_stride * ((h + 1) / 2), FALSE, &error);
  heed_buffer_upload (by, 64, y, dev_stride * h, &error);
  heed_buffer_upload (buv, 0, uv, dev_stride * ((h + 1) / 2), &error);
  HeedDevicePlane bp[2] = { { .buffer = by->buffer, .offset = 64, .stride = dev_stride },
                            { .buffer = buv->buffer, .stride = dev_stride } };
  g_assert_nonnull (res = run_device_frame_sync (vit, bp, 2, &error));
  g_assert_cmpmem (res->logits, sizeof want, want, sizeof want);
  heed_vit_result_destroy (&res);
  g_assert_null (run_device_frame_sync (vit, bp, 1, &error)); /* a plane missing */
  g_clear_error (&error);

  heed_buffer_destroy (&by);
  heed_buffer_destroy (&buv);
  heed_buffer_destroy (&up.src);
  vkDestroyImage (d->device, up.image, NULL);
  vkFreeMemory (d->device, mem, NULL);
  heed_vit_run_destroy (&vit);
  heed_vit_plan_destroy (&plan);
  heed_model_destroy (&m);
  g_free (rgba), g_free (y), g_free (uv);
  g_rand_free (rng);
  assert_no_validation_messages ();
}

/* An RGBA frame as NV12 (BT.601, limited range) packed as the layout says. */
static void
rgba_to_nv12 (const guint8 *rgba, guint w, guint h, const HeedFrameLayout *l, guint8 *out)
{
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++) {
      const guint8 *p = rgba + 4 * ((gsize) y * w + x);
      double r = p[0], g = p[1], b = p[2];
      out[l->offset[0] + (gsize) y * l->stride[0] + x] =
          (guint8) lround (16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b) / 255);
      if (x % 2 == 0 && y % 2 == 0) {
        guint8 *uv = out + l->offset[1] + (gsize) (y / 2) * l->stride[1] + x;
        uv[0] = (guint8) lround (128 + 224 * (-0.168736 * r - 0.331264 * g + 0.5 * b) / 255);
        uv[1] = (guint8) lround (128 + 224 * (0.5 * r - 0.418688 * g - 0.081312 * b) / 255);
      }
    }
}

/* Frames in device memory (a VkBuffer, NV12 with a stride of its own): the thumbnail made on
 * the device by the preprocessing shader (heed-box8) and the kernel's RGB variant, against the
 * C reference on the reference's heed-box8 thumbnail; and the same cut found as from host
 * memory. */
static void
test_keyframe_device (void)
{
  HeedDevice *d = get_device ();
  GError *error = NULL;
  const guint w = 120, h = 90, dev_stride = w + 24, n = 40, cut = 30;
  guint stride[3] = { dev_stride, dev_stride, 0 };
  HeedFrameLayout l, box;
  g_assert_true (heed_frame_layout_init (&l, HEED_PIXEL_NV12, w, h, stride, &error));
  box = l;
  box.interpolation = HEED_INTERPOLATION_HEED_BOX8;
  HeedKeyframeScorer *on_device = heed_keyframe_scorer_new (d, NULL, &error);
  HeedKeyframeScorer *on_host = heed_keyframe_scorer_new (d, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (heed_keyframe_scorer_set_layout (on_device, &l, &error));
  g_assert_true (heed_keyframe_scorer_set_layout (on_host, &l, &error));
  guint8 *rgba = g_malloc ((gsize) 4 * w * h), *nv12 = g_malloc0 (l.size);
  HeedBuffer *by = heed_buffer_new (d, (gsize) dev_stride * h, FALSE, &error);
  HeedBuffer *buv = heed_buffer_new (d, (gsize) dev_stride * ((h + 1) / 2), FALSE, &error);
  g_assert_no_error (error);
  float *thumb = g_new (float, 3 * 64 * 64), want[HEED_KEYFRAME_DIM], got[HEED_KEYFRAME_DIM];
  float rgb[3], nov_device[40] = { 0 }, nov_host[40] = { 0 };
  const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  for (guint t = 0; t < n; t++) {
    keyframe_frame (rgba, w, h, t < cut ? 0 : 2, t, 0);
    rgba_to_nv12 (rgba, w, h, &l, nv12);
    g_assert_true (heed_buffer_upload (by, 0, nv12 + l.offset[0], (gsize) dev_stride * h, &error));
    g_assert_true (heed_buffer_upload (buv, 0, nv12 + l.offset[1],
                                       (gsize) dev_stride * ((h + 1) / 2), &error));
    HeedDevicePlane planes[2] = { { .buffer = by->buffer, .stride = dev_stride },
                                  { .buffer = buv->buffer, .stride = dev_stride } };
    float novelty;
    gboolean have;
    g_assert_true (
        heed_keyframe_scorer_push_device (on_device, planes, 2, &novelty, &have, &error));
    g_assert_no_error (error);
    if (have)
      nov_device[t - 3] = novelty;
    const guint8 *host_planes[3] = { nv12 + l.offset[0], nv12 + l.offset[1], NULL };
    g_assert_true (
        heed_keyframe_scorer_push (on_host, host_planes, stride, &novelty, &have, &error));
    if (have)
      nov_host[t - 3] = novelty;
    /* the embedding: the reference's heed-box8 thumbnail, then its features */
    heed_ref_preprocess (&box, nv12, zero, one, 64, thumb);
    heed_ref_keyframe_features (thumb, want);
    g_assert_true (heed_keyframe_scorer_last_embedding (on_device, got, rgb, &error));
    for (guint i = 0; i < HEED_KEYFRAME_DIM; i++)
      if (fabsf (got[i] - want[i]) > 1e-3f)
        g_error ("frame %u: embedding[%u] %g, reference %g", t, i, got[i], want[i]);
  }
  /* a missing plane is an error, not a read out of bounds */
  HeedDevicePlane one_plane = { .buffer = by->buffer, .stride = dev_stride };
  float novelty;
  gboolean have;
  g_assert_false (
      heed_keyframe_scorer_push_device (on_device, &one_plane, 1, &novelty, &have, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  float quiet_device = 0, quiet_host = 0;
  for (guint c = HEED_KEYFRAME_MIN_HISTORY; c < cut; c++)
    quiet_device = MAX (quiet_device, nov_device[c]), quiet_host = MAX (quiet_host, nov_host[c]);
  g_test_message ("cut: device %.3f (shot before it at most %.3f), host %.3f (%.3f)",
                  nov_device[cut], quiet_device, nov_host[cut], quiet_host);
  g_assert_cmpfloat (nov_device[cut], >, 5 * quiet_device);
  g_assert_cmpfloat (fabsf (nov_device[cut] - nov_host[cut]), <, 0.1 * nov_host[cut]);
  heed_buffer_destroy (&by);
  heed_buffer_destroy (&buv);
  heed_keyframe_scorer_destroy (&on_device);
  heed_keyframe_scorer_destroy (&on_host);
  g_free (rgba), g_free (nv12), g_free (thumb);
  assert_no_validation_messages ();
}

static void
test_buffer_limits (void)
{
  GError *error = NULL;
  g_assert_null (heed_buffer_new (get_device (), (VkDeviceSize) 1 << 36, FALSE, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  HeedBuffer *b = heed_buffer_new (get_device (), 64, TRUE, &error);
  float v[32] = { 0 };
  g_assert_false (heed_buffer_upload (b, 32, v, 64, &error)); /* past the end */
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  heed_buffer_destroy (&b);
  assert_no_validation_messages ();
}

int
main (int argc, char **argv)
{
  static const GemmCase gemms[] = {
    { 1, 1, 1, 1, 0, FALSE, 1.0f },
    { 7, 13, 5, 1, 0, TRUE, 1.0f },
    { 37, 45, 29, 1, HEED_EPI_GELU, TRUE, 1.0f },
    { 33, 70, 17, 1, HEED_EPI_ACCUMULATE, TRUE, 1.0f },
    { 197, 192, 64, 1, HEED_EPI_ACCUMULATE, FALSE, 0.125f },
    { 82, 82, 48, 3, 0, FALSE, 0.5f },
    { 50, 37, 50, 4, HEED_EPI_GELU | HEED_EPI_ACCUMULATE, TRUE, 1.0f },
    { 1, 1000, 192, 1, 0, TRUE, 1.0f },
    { 197, 576, 192, 1, 0, TRUE, 1.0f },
    { 197, 64, 200, 3, 0, FALSE, 1.0f }, /* P.V with K rounded up to a multiple of 4 */
    { 20, 130, 36, 2, HEED_EPI_GELU, TRUE, 2.0f },
    { 29, 96, 44, 2, HEED_EPI_GELU | HEED_EPI_ACCUMULATE, TRUE, 1.5f },
    /* GELU's tanh approximation, on values out to where its tanh saturates */
    { 37, 45, 29, 1, HEED_EPI_GELU_TANH, TRUE, 4.0f },
    { 29, 96, 44, 2, HEED_EPI_GELU_TANH | HEED_EPI_ACCUMULATE, TRUE, 1.5f },
    /* a few rows (lavapipe's 8-row twins): a class-token model's last block and head */
    { 8, 100, 64, 2, HEED_EPI_GELU | HEED_EPI_ACCUMULATE, TRUE, 1.0f },
    { 2, 192, 768, 1, HEED_EPI_ACCUMULATE, TRUE, 1.0f },
  };
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (gemms); i++) {
    const GemmCase *t = &gemms[i];
    char *name = g_strdup_printf ("/ops/gemm/%ux%ux%u-b%u-epi%u%s", t->M, t->N, t->K, t->batches,
                                  t->epilogue, t->bias ? "-bias" : "");
    g_test_add_data_func (name, t, test_gemm);
    g_free (name);
  }
  g_test_add_func ("/ops/kernel-table", test_kernel_table);
  g_test_add_func ("/ops/gemm-half-rounding", test_gemm_half_rounding);
  g_test_add_func ("/ops/layernorm", test_layernorm);
  g_test_add_func ("/ops/gemm-layernorm", test_gemm_layernorm);
  g_test_add_func ("/ops/softmax", test_softmax);
  g_test_add_func ("/ops/swiglu", test_swiglu);
  g_test_add_func ("/ops/gather-rows", test_gather_rows);
  g_test_add_func ("/ops/rope", test_rope);
  g_test_add_func ("/ops/qk-normalize", test_qk_normalize);
  g_test_add_func ("/ops/patch-embed", test_patch_embed);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/attention-frames", test_attention_frames);
  g_test_add_func ("/ops/attention-rows", test_attention_rows);
  g_test_add_func ("/ops/head-mean", test_head_mean);
  g_test_add_func ("/ops/classification-head", test_classification_head);
  g_test_add_func ("/ops/half-conversions", test_half_conversions);
  g_test_add_func ("/ops/buffer-limits", test_buffer_limits);
  g_test_add_func ("/vit/device-frames", test_device_frames);
  g_test_add_func ("/ops/preprocess", test_preprocess);
  g_test_add_func ("/ops/preprocess-reference", test_preprocess_reference);
  g_test_add_func ("/ops/thumbnail", test_thumbnail);
  g_test_add_func ("/ops/keyframe", test_keyframe);
  g_test_add_func ("/ops/keyframe-device", test_keyframe_device);
  g_test_add_func ("/ops/logmel", test_logmel);
  g_test_add_func ("/vit/against-reference", test_vit_against_reference);
  g_test_add_func ("/vit/layouts-against-reference", test_vit_layouts_against_reference);
  int status = g_test_run ();
  heed_device_destroy (&test_device);
  g_assert_cmpuint (heed_validation_message_count (), ==, 0);
  return status;
}
