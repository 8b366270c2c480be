/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The heed tool as users run it: PyTorch parity through `heed run-tensor` on every committed
 * fixture, one-line errors on bad input (none of which may hang), `heed devices`, a missing driver,
 * and `heed bench`. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

static const char *heed_tool, *fixtures;
static char *tmp;

typedef struct {
  int status;
  char *out, *err;
} Run;

static Run
run_heed (const char *const *env_extra, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  va_list ap;
  Run r = { 0 };
  GError *error = NULL;
  char **env = g_get_environ ();
  for (const char *const *e = env_extra; e && *e; e += 2) /* NAME, VALUE (NULL: unset) */
    env = e[1] ? g_environ_setenv (env, e[0], e[1], TRUE) : g_environ_unsetenv (env, e[0]);
  g_ptr_array_add (argv, (char *) heed_tool);
  va_start (ap, env_extra);
  for (const char *a; (a = va_arg (ap, const char *));)
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &r.status, &error));
  g_assert_no_error (error);
  r.status = WIFEXITED (r.status) ? WEXITSTATUS (r.status) : 128;
  g_ptr_array_free (argv, TRUE);
  g_strfreev (env);
  return r;
}

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

static float *
read_floats (const char *path, gsize *n)
{
  char *data;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (len % 4, ==, 0);
  *n = len / 4;
  return (float *) data;
}

/* max |a - b| after checking both are the same length and finite */
static double
max_abs_diff (const char *got_path, const char *want_path, double *max_ref)
{
  gsize ng, nw;
  float *g = read_floats (got_path, &ng), *w = read_floats (want_path, &nw);
  double d = 0;
  g_assert_cmpuint (ng, ==, nw);
  *max_ref = 0;
  for (gsize i = 0; i < ng; i++) {
    g_assert_true (isfinite (g[i]));
    d = MAX (d, fabs ((double) g[i] - w[i]));
    *max_ref = MAX (*max_ref, fabs ((double) w[i]));
  }
  g_free (g);
  g_free (w);
  return d;
}

static void
test_parity (gconstpointer data)
{
  const char *name = data;
  char *dir = g_build_filename (fixtures, name, NULL);
  char *model = g_strdup (dir); /* the folder: the weights it holds, by the hub's names */
  char *input = g_build_filename (dir, "input.f32", NULL);
  char *want_logits = g_build_filename (dir, "logits.f32", NULL);
  char *want_attn = g_build_filename (dir, "cls_attention.f32", NULL);
  char *want_emb = g_build_filename (dir, "embedding.f32", NULL);
  char *logits = g_build_filename (tmp, "logits.f32", NULL);
  char *attn = g_build_filename (tmp, "attn.f32", NULL);
  char *emb = g_build_filename (tmp, "emb.f32", NULL);
  gboolean has_head = g_file_test (want_logits, G_FILE_TEST_EXISTS);
  double ref, d;

  Run r = has_head ? run_heed (NULL, "run-tensor", "--model", model, "--input", input, "--logits",
                               logits, "--cls-attention", attn, "--embedding", emb, NULL)
                   : run_heed (NULL, "run-tensor", "--model", model, "--input", input,
                               "--cls-attention", attn, "--embedding", emb, NULL);
  if (r.status != 0)
    g_error ("heed run-tensor failed (%d): %s", r.status, r.err);
  g_assert_cmpstr (r.err, ==, ""); /* nothing from the validation layer either */

  if (has_head) {
    d = max_abs_diff (logits, want_logits, &ref);
    g_test_message ("%s: logits max |diff| %.3g (limit %.3g)", name, d, 1e-3 * MAX (1, ref));
    g_assert_cmpfloat (d, <=, 1e-3 * MAX (1.0, ref));
  }
  d = max_abs_diff (attn, want_attn, &ref);
  g_test_message ("%s: CLS attention max |diff| %.3g (limit 1e-4; max %.3g)", name, d, ref);
  g_assert_cmpfloat (d, <=, 1e-4);
  d = max_abs_diff (emb, want_emb, &ref);
  g_test_message ("%s: embedding max |diff| %.3g", name, d);
  g_assert_cmpfloat (d, <=, 1e-3 * MAX (1.0, ref));

  run_clear (&r);
  g_free (dir), g_free (model), g_free (input), g_free (want_logits), g_free (want_attn);
  g_free (want_emb), g_free (logits), g_free (attn), g_free (emb);
}

/* A failing command prints exactly one line, "heed: ...", mentioning `needle`. */
static void
assert_one_line_error (Run *r, const char *needle)
{
  g_test_message ("stderr: %s", r->err);
  g_assert_cmpint (r->status, !=, 0);
  g_assert_true (g_str_has_prefix (r->err, "heed: "));
  g_assert_true (g_str_has_suffix (r->err, "\n"));
  g_assert_null (strchr (r->err, '\n') + 1 < r->err + strlen (r->err) ? strchr (r->err, '\n') + 1
                                                                      : NULL);
  if (!strstr (r->err, needle))
    g_error ("expected '%s' in: %s", needle, r->err);
  run_clear (r);
}

static void
test_errors (void)
{
  char *good = g_build_filename (fixtures, "headless_f32", "model.safetensors", NULL);
  char *input = g_build_filename (fixtures, "headless_f32", "input.f32", NULL);
  char *bad = g_build_filename (tmp, "truncated.safetensors", NULL);
  char *small = g_build_filename (tmp, "small.f32", NULL);
  char *out = g_build_filename (tmp, "out.f32", NULL);
  char *data;
  gsize len;

  g_assert_true (g_file_get_contents (good, &data, &len, NULL));
  g_assert_true (g_file_set_contents (bad, data, (gssize) (len / 2), NULL));
  g_assert_true (g_file_set_contents (small, data, 100, NULL));
  g_free (data);

  Run r =
      run_heed (NULL, "run-tensor", "--model", "/nonexistent.safetensors", "--input", input, NULL);
  assert_one_line_error (&r, "cannot read model /nonexistent.safetensors");
  r = run_heed (NULL, "run-tensor", "--model", bad, "--input", input, NULL);
  assert_one_line_error (&r, "file truncated?");
  r = run_heed (NULL, "run-tensor", "--model", good, "--input", small, NULL);
  assert_one_line_error (&r, "holds 100 bytes; the model takes float32 3 x 48 x 48");
  r = run_heed (NULL, "run-tensor", "--model", good, "--input", input, "--logits", out, NULL);
  assert_one_line_error (&r, "no classification head");
  r = run_heed (NULL, "run-tensor", "--input", input, NULL);
  assert_one_line_error (&r, "needs --model and --input");
  r = run_heed (NULL, "run-tensor", "--model", good, "--input", input, "--bogus", NULL);
  assert_one_line_error (&r, "--bogus");
  r = run_heed (NULL, "run-tensor", "--model", good, "--input", input, "--weights", "fp8", NULL);
  assert_one_line_error (&r, "unknown weight format 'fp8': use fp32, fp16 or fp16-matmul");
  r = run_heed (NULL, "frobnicate", NULL);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_nonnull (strstr (r.err, "unknown command 'frobnicate'"));
  run_clear (&r);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS)); /* nothing half-written */

  g_free (good), g_free (input), g_free (bad), g_free (small), g_free (out);
}

static void
test_devices (void)
{
  Run r = run_heed (NULL, "devices", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_regex_match_simple ("^\\* 0: .+ \\((CPU|discrete GPU|integrated GPU|virtual "
                                       "GPU|other)\\)$",
                                       r.out, G_REGEX_MULTILINE, 0));
  g_assert_nonnull (strstr (r.out, "heed uses device"));
  run_clear (&r);

  const char *env[] = { "HEED_DEVICE", "no-such-device", NULL };
  r = run_heed (env, "devices", NULL);
  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.out, "no usable device matches HEED_DEVICE"));
  run_clear (&r);
}

/* Whether /proc/cpuinfo lists the flag (avx512f, avx2; the kernel lists AVX ones only where the
 * OS saves the registers): read apart from the tool, which asks the CPU itself. */
static gboolean
cpuinfo_has (const char *flag)
{
  char *info = NULL;
  if (!g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL))
    return FALSE;
  char *pattern = g_strdup_printf ("^flags\\s*:.* %s( |$)", flag);
  gboolean has = g_regex_match_simple (pattern, info, G_REGEX_MULTILINE, 0);
  g_free (pattern);
  g_free (info);
  return has;
}

/* `heed devices` with LP_NATIVE_VECTOR_WIDTH and Mesa's GALLIUM_OVERRIDE_CPU_CAPS as given (NULL:
 * unset): lavapipe at the width bits (", 256 bits) (CPU)"), not set by the tool, with the kernels
 * named (kernel_also may be NULL) */
static void
assert_width_left (const char *width, const char *caps, const char *bits, const char *kernel,
                   const char *kernel_also)
{
  const char *env[] = {
    "HEED_DEVICE", "llvmpipe", "LP_NATIVE_VECTOR_WIDTH", width, "GALLIUM_OVERRIDE_CPU_CAPS",
    caps,          NULL
  };
  Run r = run_heed (env, "devices", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, bits));
  g_assert_null (strstr (r.out, "vectors:"));
  g_assert_nonnull (strstr (r.out, kernel));
  g_assert_true (!kernel_also || strstr (r.out, kernel_also));
  run_clear (&r);
}

/* The heed tool runs lavapipe at 512-bit vectors where the CPU has AVX-512 and the user has not
 * chosen (docs/benchmarks.md), and leaves a width the user chose alone. */
static void
test_vector_width (void)
{
  gboolean avx512 = cpuinfo_has ("avx512f");
  g_test_message ("AVX-512F in /proc/cpuinfo: %s", avx512 ? "yes" : "no");
  const char *unset[] = { "HEED_DEVICE",
                          "llvmpipe",
                          "LP_NATIVE_VECTOR_WIDTH",
                          NULL,
                          "GALLIUM_OVERRIDE_CPU_CAPS",
                          NULL,
                          "GALLIUM_NOSSE",
                          NULL,
                          NULL };
  Run r = run_heed (unset, "devices", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_test_message ("%s", r.out);
  g_assert_nonnull (strstr (r.out, avx512 ? ", 512 bits) (CPU)" : ", 256 bits) (CPU)"));
  g_assert_true ((strstr (r.out, "vectors: LP_NATIVE_VECTOR_WIDTH=512, set by heed") != NULL) ==
                 avx512);
  g_assert_nonnull (strstr (r.out, avx512 ? "workgroups of 16" : "workgroups of 8"));
  run_clear (&r);

  assert_width_left ("256", NULL, ", 256 bits) (CPU)", "workgroups of 8", NULL);
  /* Mesa's own switch taking AVX-512 from llvmpipe: 512-bit vectors would then run in AVX2 code,
   * 1.4 to 1.5 times slower, so the tool leaves Mesa's 256 (where the CPU has AVX2 at all) */
  if (cpuinfo_has ("avx2"))
    assert_width_left (NULL, "avx", ", 256 bits) (CPU)", "gemm_k4_sg8_texels", "attention_sg8");
  /* and down to SSE4.1 (a CPU without AVX): 128 bits, the 4-lane kernels */
  assert_width_left (NULL, "sse4.1", ", 128 bits) (CPU)", "gemm_k4_sg4_texels", "attention_sg4");
}

/* With no Vulkan driver the error names the package to install. */
static void
test_no_driver (void)
{
  char *model = g_build_filename (fixtures, "headless_f32", "model.safetensors", NULL);
  char *input = g_build_filename (fixtures, "headless_f32", "input.f32", NULL);
  /* The loader's own complaints would reach stderr through the validation messenger. */
  const char *env[] = { "VK_ICD_FILENAMES",
                        "/nonexistent/icd.json",
                        "VK_DRIVER_FILES",
                        "/nonexistent/icd.json",
                        "HEED_VALIDATION",
                        "0",
                        NULL };
  Run r = run_heed (env, "devices", NULL);
  assert_one_line_error (&r, "mesa-vulkan-drivers");
  r = run_heed (env, "run-tensor", "--model", model, "--input", input, NULL);
  assert_one_line_error (&r, "mesa-vulkan-drivers");
  g_free (model), g_free (input);
}

static void
test_bench (void)
{
  Run r = run_heed (NULL, "bench", "--dim", "64", "--depth", "2", "--heads", "2", "--img", "64",
                    "--classes", "10", "--runs", "2", "--warmup", "1", "--pipeline-frames", "24",
                    "--pipeline-size", "160x120", NULL);
  if (r.status != 0)
    g_error ("heed bench failed: %s", r.err);
  g_test_message ("%s", r.out);
  /* heed's and PyTorch's numbers side by side, for the model and for each op family, and
   * heed's GFLOP/s as a share of the device's peak measured first */
  g_assert_nonnull (strstr (r.out, "torch:  PyTorch"));
  GMatchInfo *m = NULL;
  g_assert_true (g_regex_match_simple ("^peak: +[0-9.]+ GFLOP/s", r.out, G_REGEX_MULTILINE, 0));
  double peak = g_ascii_strtod (strstr (r.out, "peak:") + 5, NULL);
  g_assert_cmpfloat (peak, >, 0);
  const char *rows[] = { "forward", "patch_embed", "layernorm", "qkv", "attention",
                         "proj",    "fc1",         "fc2",       "head" };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    /* the op rows that do 1% or more of the work end with heed's share of PyTorch's GFLOP/s
     * (% torch): the GEMMs and the attention among them */
    gboolean compared = g_strv_contains (
        (const char *const[]){ "qkv", "attention", "proj", "fc1", "fc2", NULL }, rows[i]);
    char *pattern =
        g_strdup_printf ("^%s +[0-9.]+ +[0-9.]+ +([0-9.]+) +([0-9.]+) +[0-9.]+ +[0-9.]+%s$",
                         rows[i], compared ? " +([0-9]+)" : "( +[0-9]+)?");
    GRegex *re = g_regex_new (pattern, G_REGEX_MULTILINE, 0, NULL);
    if (!g_regex_match (re, r.out, 0, &m))
      g_error ("no '%s' row with every column in:\n%s", rows[i], r.out);
    /* the share is the row's GFLOP/s over the peak line's, within what printing rounds away:
     * half a tenth of the share, and half a hundredth of the GFLOP/s (a larger share of a
     * lower peak, as on a loaded machine) */
    char *gflops = g_match_info_fetch (m, 1), *share = g_match_info_fetch (m, 2);
    g_assert_cmpfloat_with_epsilon (g_ascii_strtod (share, NULL),
                                    100.0 * g_ascii_strtod (gflops, NULL) / peak,
                                    0.05 + 100.0 * 0.005 / peak + 1e-3);
    if (compared) {
      /* the same share on the line of the turns' shares, within their range */
      char *of_torch = g_match_info_fetch (m, 3);
      char *turns = g_strdup_printf ("[:,] %s %s%% \\(([0-9]+) to ([0-9]+)\\)", rows[i], of_torch);
      GMatchInfo *tm = NULL;
      GRegex *tre = g_regex_new (turns, 0, 0, NULL);
      const char *line = strstr (r.out, "ops, heed's GFLOP/s as a share of PyTorch's, the median "
                                        "of 2 turns' (their range): ");
      g_assert_nonnull (line);
      if (!g_regex_match (tre, line, 0, &tm))
        g_error ("no '%s %s%%' with its range in: %s", rows[i], of_torch, line);
      char *lo = g_match_info_fetch (tm, 1), *hi = g_match_info_fetch (tm, 2);
      g_assert_cmpfloat (g_ascii_strtod (lo, NULL), <=, g_ascii_strtod (of_torch, NULL));
      g_assert_cmpfloat (g_ascii_strtod (of_torch, NULL), <=, g_ascii_strtod (hi, NULL));
      g_free (lo), g_free (hi), g_free (turns), g_free (of_torch);
      g_match_info_free (tm);
      g_regex_unref (tre);
    }
    g_free (gflops), g_free (share), g_free (pattern);
    g_match_info_free (m);
    g_regex_unref (re);
  }
  /* PyTorch took turns with heed: the forward ratio is the median of the turns' ratios (one
   * turn per run here), within their range, and the forward row's medians give their own */
  g_assert_nonnull (strstr (r.out, "taking turns with heed (2 turns)"));
  GRegex *ratio_re = g_regex_new ("^forward, heed / PyTorch: ([0-9.]+) times, the median of 2 "
                                  "turns' ratios \\(([0-9.]+) to ([0-9.]+)\\); the forward "
                                  "row's medians give ([0-9.]+)$",
                                  G_REGEX_MULTILINE, 0, NULL);
  if (!g_regex_match (ratio_re, r.out, 0, &m))
    g_error ("no ratio line in:\n%s", r.out);
  double ratio[4];
  for (guint k = 0; k < 4; k++) {
    char *f = g_match_info_fetch (m, k + 1);
    ratio[k] = g_ascii_strtod (f, NULL);
    g_free (f);
  }
  g_assert_cmpfloat (ratio[1], >, 0);
  g_assert_cmpfloat (ratio[1], <=, ratio[0]);
  g_assert_cmpfloat (ratio[0], <=, ratio[2]);
  /* with one run a turn, the medians' ratio is between the turns' too */
  g_assert_cmpfloat (ratio[3], >=, ratio[1] - 0.01);
  g_assert_cmpfloat (ratio[3], <=, ratio[2] + 0.01);
  g_match_info_free (m);
  g_regex_unref (ratio_re);
  /* the forward row times passes with no timestamps; the passes timed op by op are given apart,
   * beside the forward row's median as printed in its row */
  GRegex *stamp_re = g_regex_new ("^timestamps: the passes timed op by op took ([0-9.]+) ms "
                                  "\\(median\\), the forward row's ([0-9.]+)$",
                                  G_REGEX_MULTILINE, 0, NULL);
  if (!g_regex_match (stamp_re, r.out, 0, &m))
    g_error ("no timestamps line in:\n%s", r.out);
  char *stamped = g_match_info_fetch (m, 1), *forward = g_match_info_fetch (m, 2);
  g_assert_cmpfloat (g_ascii_strtod (stamped, NULL), >, 0);
  char *forward_row = g_strdup_printf ("^forward +[0-9.]+ +%s ", forward);
  g_assert_true (g_regex_match_simple (forward_row, r.out, G_REGEX_MULTILINE, 0));
  g_free (forward_row), g_free (stamped), g_free (forward);
  g_match_info_free (m);
  g_regex_unref (stamp_re);
  /* the element pipelines on the same checkpoint: every frame through, frames per second, and
   * per-frame latency as median <= 95th percentile <= most */
  const char *pipelines[] = { "heedclassify ! heedkeyframe ! heedoverlay",
                              "heedclassify ! heedoverlay" };
  for (guint i = 0; i < G_N_ELEMENTS (pipelines); i++) {
    char *pattern = g_strdup_printf ("^%s +([0-9]+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+)$",
                                     pipelines[i]);
    GRegex *re = g_regex_new (pattern, G_REGEX_MULTILINE, 0, NULL);
    if (!g_regex_match (re, r.out, 0, &m))
      g_error ("no '%s' pipeline row in:\n%s", pipelines[i], r.out);
    double v[5];
    for (guint k = 0; k < 5; k++) {
      char *f = g_match_info_fetch (m, k + 1);
      v[k] = g_ascii_strtod (f, NULL);
      g_free (f);
    }
    g_assert_cmpfloat (v[0], ==, 24); /* frames at the sink */
    g_assert_cmpfloat (v[1], >, 0);
    g_assert_cmpfloat (v[2], >, 0);
    g_assert_cmpfloat (v[2], <=, v[3]);
    g_assert_cmpfloat (v[3], <=, v[4]);
    g_free (pattern);
    g_match_info_free (m);
    g_regex_unref (re);
  }
  run_clear (&r);

  /* frames instead of a tensor, in the formats decoders give (odd sizes: the chroma planes
   * round up), with the preprocessing's own row */
  const char *formats[] = { "I420", "NV12", "YUY2", "RGB" };
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    r = run_heed (NULL, "bench", "--dim", "64", "--depth", "1", "--heads", "2", "--img", "64",
                  "--classes", "10", "--runs", "1", "--warmup", "0", "--no-torch",
                  "--pipeline-frames", "0", "--frame", "97x61", "--frame-format", formats[i], NULL);
    if (r.status != 0)
      g_error ("heed bench --frame-format %s failed: %s", formats[i], r.err);
    g_assert_true (
        g_regex_match_simple ("^preprocess +[0-9.]+ +[0-9.]+", r.out, G_REGEX_MULTILINE, 0));
    g_assert_nonnull (strstr (r.out, "writing the 1 input frame"));
    run_clear (&r);
  }
  r = run_heed (NULL, "bench", "--frame", "64x64", "--frame-format", "P010", NULL);
  assert_one_line_error (&r, "--frame-format: unknown format 'P010'");
  r = run_heed (NULL, "bench", "--frame-format", "I420", NULL);
  assert_one_line_error (&r, "--frame-format needs --frame");
  r = run_heed (NULL, "bench", "--shape", "nope", NULL);
  assert_one_line_error (&r, "unknown shape 'nope'");
  r = run_heed (NULL, "bench", "--pipeline-frames", "5", NULL);
  assert_one_line_error (&r, "--pipeline-frames must be 0 (none) or at least 12");
  r = run_heed (NULL, "bench", "--pipeline-size", "640", NULL);
  assert_one_line_error (&r, "--pipeline-size takes WxH");
  r = run_heed (NULL, "bench", "--turns", "0", NULL);
  assert_one_line_error (&r, "--turns must be >= 1");
}

/* heed classify on inputs that are not images ends at once (it once waited forever for a
 * frame): a one-line reason and a non-zero status. Inputs are read with a bound: /dev/zero as
 * a tensor or a labels file is refused after what a valid file can hold. */
static void
test_bad_inputs (void)
{
  char *png = g_build_filename (tmp, "good.png", NULL);
  char *truncated = g_build_filename (tmp, "truncated.png", NULL);
  char *webp = g_build_filename (tmp, "cut.webp", NULL);
  char *text = g_build_filename (tmp, "text.txt", NULL);
  char *random = g_build_filename (tmp, "random.bin", NULL);
  char *empty = g_build_filename (tmp, "empty.png", NULL);
  char *dir = g_build_filename (tmp, "a-directory", NULL);
  char *pipeline =
      g_strdup_printf ("gst-launch-1.0 -q videotestsrc num-buffers=1 ! "
                       "video/x-raw,width=64,height=48 ! pngenc ! filesink location=%s",
                       png);
  gint status;
  g_assert_true (g_spawn_command_line_sync (pipeline, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  char *data;
  gsize len;
  g_assert_true (g_file_get_contents (png, &data, &len, NULL));
  g_assert_true (g_file_set_contents (truncated, data, (gssize) (len / 3), NULL));
  g_free (data);
  /* a WebP cut short: webpdec and GdkPixbuf's loader decode it as far as it goes, the rest
   * black (a label came out for it), where Pillow refuses it */
  char *webp_pipeline =
      g_strdup_printf ("gst-launch-1.0 -q videotestsrc num-buffers=1 ! "
                       "video/x-raw,width=64,height=48 ! webpenc ! filesink location=%s",
                       webp);
  g_assert_true (g_spawn_command_line_sync (webp_pipeline, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_free (webp_pipeline);
  g_assert_true (g_file_get_contents (webp, &data, &len, NULL));
  g_assert_true (g_file_set_contents (webp, data, (gssize) (len * 2 / 3), NULL));
  g_free (data);
  guint8 noise[4096];
  GRand *rng = g_rand_new_with_seed (3);
  for (guint i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_rand_int_range (rng, 0, 256);
  g_rand_free (rng);
  g_assert_true (g_file_set_contents (random, (const char *) noise, sizeof noise, NULL));
  g_assert_true (g_file_set_contents (text, "not an image\n", -1, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);

  const struct {
    const char *path, *reason;
  } cases[] = {
    { "/nonexistent/photo.png", "No such file or directory" },
    { text, "cannot decode" },
    { random, "cannot decode" },
    { empty, "is empty" },
    { truncated, "cannot decode" },
    { webp, "cannot decode: the WebP is cut short or damaged" },
    { dir, "no pictures or videos in this folder" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gint64 t0 = g_get_monotonic_time ();
    Run r = run_heed (NULL, "classify", cases[i].path, NULL);
    double s = (g_get_monotonic_time () - t0) / 1e6;
    g_test_message ("%s: %.2f s", cases[i].path, s);
    assert_one_line_error (&r, cases[i].reason);
    g_assert_cmpfloat (s, <, 30.0); /* a hang guard, far above the ~0.3 s it takes */
  }
  /* a good image after a bad one still gives its line, and the status says one failed */
  Run r = run_heed (NULL, "classify", text, png, NULL);
  g_assert_cmpint (r.status, !=, 0);
  g_assert_true (g_str_has_prefix (r.out, "{\"file\":"));
  run_clear (&r);

  char *model = g_build_filename (fixtures, "p8_hd48_f32", "model.safetensors", NULL);
  r = run_heed (NULL, "run-tensor", "--model", model, "--input", "/dev/zero", "--logits",
                "/dev/null", NULL);
  assert_one_line_error (&r, "/dev/zero is larger than the 62208 bytes it can validly hold");
  r = run_heed (NULL, "classify", "--labels", "/dev/zero", png, NULL);
  assert_one_line_error (&r, "/dev/zero is larger than");
  g_free (model);

  /* a labels file as Windows' Notepad saves it (a byte order mark, CR LF): the names alone */
  char *notepad = g_build_filename (tmp, "labels-notepad.txt", NULL);
  GString *names = g_string_new ("\xef\xbb\xbf");
  for (guint i = 0; i < 19; i++)
    g_string_append_printf (names, "name%u\r\n", i);
  g_assert_true (g_file_set_contents (notepad, names->str, -1, NULL));
  g_string_free (names, TRUE);
  r = run_heed (NULL, "classify", "--labels", notepad, "--top-k", "19", png, NULL);
  g_assert_cmpint (r.status, ==, 0);
  for (guint i = 0; i < 19; i++) {
    char *quoted = g_strdup_printf ("\"label\":\"name%u\"", i);
    g_assert_nonnull (strstr (r.out, quoted));
    g_free (quoted);
  }
  run_clear (&r);
  g_unlink (notepad);
  g_free (notepad);

  g_rmdir (dir);
  g_free (png), g_free (truncated), g_free (webp), g_free (text), g_free (random), g_free (empty),
      g_free (dir);
  g_free (pipeline);
}

/* heed classify on a folder: the pictures and videos in it (by content, hidden files, sidecar
 * text and subfolders left out) in the order a file manager lists them, each line as for the
 * file named alone; a folder with none is a one-line error. And - : standard input, read once. */
static void
test_folders_and_stdin (void)
{
  char *dir = g_build_filename (tmp, "photos", NULL);
  char *sub = g_build_filename (dir, "subfolder", NULL);
  g_assert_cmpint (g_mkdir_with_parents (sub, 0700), ==, 0);
  /* three pictures that classify apart, named so that a plain byte order would differ */
  const char *names[] = { "a2.png", "a10.png", "b.png" };
  const char *patterns[] = { "ball", "smpte", "snow" };
  GString *direct_args = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    char *path = g_build_filename (dir, names[i], NULL);
    char *cmd = g_strdup_printf ("gst-launch-1.0 -q videotestsrc pattern=%s num-buffers=1 ! "
                                 "video/x-raw,width=64,height=48 ! pngenc ! filesink location=%s",
                                 patterns[i], path);
    gint status;
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_string_append_printf (direct_args, " %s", path);
    g_free (cmd), g_free (path);
  }
  char *hidden = g_build_filename (dir, ".thumbnail.png", NULL);
  char *notes = g_build_filename (dir, "notes.txt", NULL);
  char *xmp = g_build_filename (dir, "a2.png.xmp", NULL);
  char *first = g_build_filename (dir, "a2.png", NULL);
  char *data;
  gsize len;
  g_assert_true (g_file_get_contents (first, &data, &len, NULL));
  g_assert_true (g_file_set_contents (hidden, data, (gssize) len, NULL));
  g_free (data);
  g_assert_true (g_file_set_contents (notes, "taken in June\n", -1, NULL));
  g_assert_true (g_file_set_contents (
      xmp, "<?xml version=\"1.0\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>", -1, NULL));

  /* the folder's lines are those of its three pictures named in order, byte for byte */
  char *cmd = g_strdup_printf ("%s classify%s", heed_tool, direct_args->str);
  char *direct = NULL;
  gint status;
  g_assert_true (g_spawn_command_line_sync (cmd, &direct, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_free (cmd);
  Run r = run_heed (NULL, "classify", dir, NULL);
  g_test_message ("folder: %s%s", r.out, r.err);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, direct);
  run_clear (&r);

  /* standard input: the last picture's line, its file "-" */
  char *last = g_build_filename (dir, "b.png", NULL);
  cmd = g_strdup_printf ("sh -c '\"$0\" classify - < \"$1\"' %s %s", heed_tool, last);
  char *piped = NULL;
  g_assert_true (g_spawn_command_line_sync (cmd, &piped, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_free (cmd);
  char *quoted = g_strdup_printf ("{\"file\":\"%s\"", last);
  const char *line = strstr (direct, quoted);
  g_assert_nonnull (line);
  char *expected = g_strdup_printf ("{\"file\":\"-\"%s", line + strlen (quoted));
  g_assert_cmpstr (piped, ==, expected);
  g_free (expected), g_free (quoted), g_free (piped);
  /* named twice: the second is refused, the first still classified */
  cmd = g_strdup_printf ("sh -c '\"$0\" classify - - < \"$1\"' %s %s", heed_tool, last);
  char *err = NULL;
  g_assert_true (g_spawn_command_line_sync (cmd, &piped, &err, &status, NULL));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_str_has_prefix (piped, "{\"file\":\"-\""));
  g_assert_nonnull (strstr (err, "standard input is read once"));
  g_free (cmd), g_free (piped), g_free (err);

  /* a folder with nothing to classify */
  r = run_heed (NULL, "classify", sub, NULL);
  assert_one_line_error (&r, "no pictures or videos in this folder");

  g_unlink (hidden), g_unlink (notes), g_unlink (xmp);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    char *path = g_build_filename (dir, names[i], NULL);
    g_unlink (path);
    g_free (path);
  }
  g_rmdir (sub), g_rmdir (dir);
  g_free (hidden), g_free (notes), g_free (xmp), g_free (first), g_free (last);
  g_free (direct), g_free (sub), g_free (dir);
  g_string_free (direct_args, TRUE);
}

/* heed classify prepares images as the checkpoint's own config says, and -v says so: a timm
 * config.json beside the weights (mean = std = 0.5, crop_pct 0.9) against none (ImageNet's),
 * checked on the tensor the model is fed for a uniform grey image. */
static void
test_checkpoint_preprocessing (void)
{
  char *dir = g_build_filename (tmp, "checkpoint", NULL);
  char *model = g_build_filename (dir, "model.safetensors", NULL);
  char *config = g_build_filename (dir, "config.json", NULL);
  char *grey = g_build_filename (tmp, "grey.png", NULL);
  char *tensor = g_build_filename (tmp, "fed.f32", NULL);
  char *plain = g_build_filename (fixtures, "p8_hd48_f32", "model.safetensors", NULL);
  char *data, *cmd;
  gsize len;
  gint status;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_get_contents (plain, &data, &len, NULL));
  g_assert_true (g_file_set_contents (model, data, (gssize) len, NULL));
  g_free (data);
  g_assert_true (g_file_set_contents (
      config,
      "{\"architecture\": \"vit_test\", \"pretrained_cfg\": {\"mean\": [0.5, 0.5, 0.5], "
      "\"std\": [0.5, 0.5, 0.5], \"crop_pct\": 0.9, \"interpolation\": \"bicubic\"}}",
      -1, NULL));
  cmd = g_strdup_printf ("gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=solid-color "
                         "foreground-color=0xff808080 ! video/x-raw,width=100,height=60 ! pngenc "
                         "! filesink location=%s",
                         grey);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  Run r = run_heed (NULL, "classify", "-v", "--model", model, "--dump-tensor", tensor, grey, NULL);
  g_test_message ("%s", r.err);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "heed: preprocessing: centre crop 0.9"));
  g_assert_nonnull (strstr (r.err, "mean/std from config.json pretrained_cfg"));
  g_assert_nonnull (strstr (r.err, "crop from config.json pretrained_cfg"));
  run_clear (&r);
  gsize n;
  float *fed = read_floats (tensor, &n);
  g_assert_cmpuint (n, ==, 3 * 72 * 72);
  for (gsize i = 0; i < n; i++) /* grey 128 through mean 0.5, std 0.5 */
    g_assert_cmpfloat (fabs (fed[i] - (128.0 / 255 - 0.5) / 0.5), <, 1e-4);
  g_free (fed);

  /* the same weights with nothing beside them: ImageNet's mean and std */
  r = run_heed (NULL, "classify", "-v", "--model", plain, "--dump-tensor", tensor, grey, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "mean/std from ImageNet defaults"));
  run_clear (&r);
  fed = read_floats (tensor, &n);
  g_assert_cmpfloat (fabs (fed[0] - (128.0 / 255 - 0.485) / 0.229), <, 1e-4);
  g_assert_cmpfloat (fabs (fed[2 * 72 * 72] - (128.0 / 255 - 0.406) / 0.225), <, 1e-4);
  g_free (fed);

  /* an explicit --resize wins over the checkpoint's geometry, and says so */
  r = run_heed (NULL, "classify", "-v", "--resize", "stretch", "--model", model, grey, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "--resize overrides the geometry"));
  run_clear (&r);
  /* and --interpolation over its filter */
  r = run_heed (NULL, "classify", "-v", "--interpolation", "nearest", "--model", model, grey, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "centre crop 0.9, nearest"));
  g_assert_nonnull (strstr (r.err, "--interpolation overrides the filter"));
  run_clear (&r);
  r = run_heed (NULL, "classify", "--interpolation", "sharp", "--model", model, grey, NULL);
  assert_one_line_error (&r, "--interpolation takes checkpoint, bilinear, bicubic");

  g_unlink (model), g_unlink (config), g_unlink (grey), g_unlink (tensor);
  g_rmdir (dir);
  g_free (dir), g_free (model), g_free (config), g_free (grey), g_free (tensor), g_free (plain);
  g_free (cmd);
}

int
main (int argc, char **argv)
{
  static const char *cases[] = { "deit_tiny_f16",
                                 "p8_hd48_f32",
                                 "p14_hd32_bf16",
                                 "headless_f32",
                                 "hf_vit_f32",
                                 "dinov2_ls_f32",
                                 "deit_distilled_f32",
                                 "vit_reg4_f32",
                                 "clip_quickgelu_f32",
                                 "vit_gap_f32",
                                 "hub_timm_vit",
                                 "hub_hf_vit",
                                 "hf_deit_distilled_f32",
                                 "hf_dinov2_f32",
                                 "hf_clip_f32",
                                 "hf_dinov2_reg_f32",
                                 "hf_dinov2_cls_f32",
                                 "dinov2_repo_reg_f32",
                                 "vit_gap_norm_f32",
                                 "vit_cls_gap_norm_f32",
                                 "vit_map_f32",
                                 "hf_siglip_f32",
                                 "hf_siglip_cls_f32",
                                 "hf_siglip2_naflex_f32",
                                 "hf_clip_cls_f32",
                                 "beit_f32",
                                 "hf_beit_f32",
                                 "hf_data2vec_f32",
                                 "dinov2_swiglu_f32",
                                 "hf_dinov2_swiglu_f32",
                                 "hf_dinov2_swiglu_split_f32",
                                 "dinov2_repo_swiglu_f32",
                                 "eva02_tiny_f32",
                                 "eva02_base_f32",
                                 "eva02_token_f32",
                                 "eva02_clip_f32",
                                 "rope_axial_f32",
                                 "rope_mixed_f32",
                                 "pe_core_f32",
                                 "pe_spatial_f32",
                                 "rope_sbb_f32",
                                 "dinov3_small_f32",
                                 "dinov3_plus_f32",
                                 "hf_dinov3_f32",
                                 "hf_dinov3_gated_f32",
                                 "open_clip_f32",
                                 "open_clip_avg_f32",
                                 "open_clip_trunk_f32",
                                 "hf_mae_f32",
                                 "hf_ijepa_f32",
                                 "timm_aimv2_f32",
                                 "aimv2_apple_f32",
                                 "hf_aimv2_f32",
                                 "vit_intern_f32",
                                 "hf_blip_f32",
                                 "hf_blip2_f32",
                                 "intern_vit_f32",
                                 "hf_ved_f32",
                                 "hf_git_f32",
                                 "hf_paligemma_f32",
                                 "hf_internvl_f32",
                                 "hf_depth_anything_f32",
                                 "swin_f32",
                                 "hf_swin_f32",
                                 "swinv2_f32",
                                 "hf_swinv2_f32" };
  g_test_init (&argc, &argv, NULL);
  heed_tool = g_getenv ("HEED_TOOL");
  fixtures = g_getenv ("HEED_FIXTURES");
  g_assert_nonnull (heed_tool);
  g_assert_nonnull (fixtures);
  tmp = g_dir_make_tmp ("heed-cli-XXXXXX", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *path = g_strdup_printf ("/cli/parity/%s", cases[i]);
    g_test_add_data_func (path, cases[i], test_parity);
    g_free (path);
  }
  g_test_add_func ("/cli/errors", test_errors);
  g_test_add_func ("/cli/bad-inputs", test_bad_inputs);
  g_test_add_func ("/cli/folders-and-stdin", test_folders_and_stdin);
  g_test_add_func ("/cli/checkpoint-preprocessing", test_checkpoint_preprocessing);
  g_test_add_func ("/cli/devices", test_devices);
  g_test_add_func ("/cli/vector-width", test_vector_width);
  g_test_add_func ("/cli/no-driver", test_no_driver);
  g_test_add_func ("/cli/bench", test_bench);
  int status = g_test_run ();
  GDir *dir = g_dir_open (tmp, 0, NULL);
  for (const char *f; dir && (f = g_dir_read_name (dir));) {
    char *p = g_build_filename (tmp, f, NULL);
    g_unlink (p);
    g_free (p);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp);
  g_free (tmp);
  return status;
}
