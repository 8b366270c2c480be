/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heed bench: ms per forward pass (or per batch of them) and GFLOP/s, for the whole model and per
 * op (from GPU timestamps), each as a share of the device's own multiply-add peak measured first,
 * with the same checkpoint through PyTorch (on the CPU, or on CUDA) in the same run. */
#include "heed-engine.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heed-cli.h"

static const char *op_kinds[] = { "preprocess", "patch_embed", "layernorm", "qkv", "attention",
                                  "proj",       "fc1",         "fc2",       "head" };

typedef struct {
  const char *name;
  guint img, patch, dim, depth, heads, classes;
} Shape;

static const Shape shapes[] = {
  { "deit-tiny", 224, 16, 192, 12, 3, 1000 },
  { "deit-small", 224, 16, 384, 12, 6, 1000 },
  { "vit-base", 224, 16, 768, 12, 12, 1000 },
};

static char *
find_torch_script (void)
{
  const char *candidates[] = { g_getenv ("HEED_TOOLS_DIR"), HEED_SOURCE_TOOLS_DIR,
                               HEED_INSTALLED_TOOLS_DIR };
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++) {
    if (!candidates[i])
      continue;
    char *p = g_build_filename (candidates[i], "bench_torch.py", NULL);
    if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
      return p;
    g_free (p);
  }
  return NULL;
}

/* PyTorch taking turns with heed (bench_torch.py --serve): the script loads the checkpoint and
 * chooses its threads once, then answers one JSON line per command line. Taking turns, a
 * machine whose speed drifts (a shared VM, where it swings by 2x within minutes) slows both
 * sides of a turn alike, which two runs one after the other do not. */
typedef struct {
  GPid pid;
  FILE *to, *from;
  int err_fd;
  JsonParser *first;   /* the first line: version, threads */
  JsonParser *message; /* the latest answer */
} TorchTurns;

/* Ends the script (the end of its input ends it) and waits for it; with why, sets *why to the
 * reason it failed: the last line it wrote to stderr. */
static void
torch_stop (TorchTurns *t, char **why)
{
  if (!t->from)
    return;
  if (t->to)
    fclose (t->to);
  fclose (t->from);
  t->to = t->from = NULL;
  int wait_status = 0;
  waitpid (t->pid, &wait_status, 0);
  g_spawn_close_pid (t->pid);
  GString *err = g_string_new (NULL);
  char chunk[4096];
  ssize_t n;
  lseek (t->err_fd, 0, SEEK_SET);
  while ((n = read (t->err_fd, chunk, sizeof chunk)) > 0)
    g_string_append_len (err, chunk, n);
  close (t->err_fd);
  if (why) {
    char *last = g_strrstr (g_strstrip (err->str), "\n");
    *why = *err->str ? g_strdup_printf ("PyTorch run failed: %s", last ? last + 1 : err->str)
                     : g_strdup ("bench_torch.py ended without an answer");
  }
  g_string_free (err, TRUE);
  g_clear_object (&t->message);
}

/* The script's next JSON line as an object (owned by *parser), or NULL with the script ended
 * and *why set. Other lines (a library printing to stdout) are passed over. */
static JsonObject *
torch_read (TorchTurns *t, JsonParser **parser, char **why)
{
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  g_clear_object (parser);
  while ((len = getline (&line, &cap, t->from)) > 0) {
    if (line[0] != '{')
      continue;
    *parser = json_parser_new ();
    if (json_parser_load_from_data (*parser, line, len, NULL) &&
        JSON_NODE_HOLDS_OBJECT (json_parser_get_root (*parser))) {
      free (line);
      return json_node_get_object (json_parser_get_root (*parser));
    }
    g_clear_object (parser);
  }
  free (line);
  torch_stop (t, why);
  return NULL;
}

/* Starts bench_torch.py --serve and waits for its first line: the checkpoint loaded and its
 * threads chosen (the faster of 1 and one per core over `runs` passes), before any of heed's
 * timed runs. */
static JsonObject *
torch_start (TorchTurns *t, const char *python, const char *model_path, int runs, int batch,
             const char *where, gboolean fp16_matmul, char **why)
{
  char *script = find_torch_script ();
  if (!script) {
    *why = g_strdup ("bench_torch.py not found (set HEED_TOOLS_DIR)");
    return NULL;
  }
  char *runs_s = g_strdup_printf ("%d", runs), *batch_s = g_strdup_printf ("%d", batch);
  const char *args[] = { python,  script,     "--model", model_path, "--runs", runs_s, "--batch",
                         batch_s, "--device", where,     "--serve",  NULL,     NULL };
  if (fp16_matmul) /* PyTorch's matrix multiplies on tensor cores too (autocast float16) */
    args[11] = "--fp16-matmul";
  int in_fd, out_fd;
  GError *error = NULL;
  /* its stderr into an unlinked temporary file, not a pipe: a pipe nobody reads during the turns
   * would stop the script once warnings filled it */
  char *err_path = NULL;
  t->err_fd = g_file_open_tmp ("heed-bench-torch-XXXXXX", &err_path, &error);
  gboolean spawned = t->err_fd >= 0 && g_spawn_async_with_pipes_and_fds (
                                           NULL, (const char *const *) args, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, -1, t->err_fd,
                                           NULL, NULL, 0, &t->pid, &in_fd, &out_fd, NULL, &error);
  if (err_path)
    g_remove (err_path);
  g_free (err_path);
  g_free (script);
  g_free (runs_s);
  g_free (batch_s);
  if (!spawned) {
    if (t->err_fd >= 0)
      close (t->err_fd);
    *why = g_strdup_printf ("cannot run %s: %s", python, error->message);
    g_error_free (error);
    return NULL;
  }
  /* a script that died must not take heed with it when heed writes the next command */
  signal (SIGPIPE, SIG_IGN);
  t->to = fdopen (in_fd, "w");
  t->from = fdopen (out_fd, "r");
  return torch_read (t, &t->first, why);
}

/* One command ("forward N", "ops N") and its answer, or NULL with the script ended. */
static JsonObject *
torch_ask (TorchTurns *t, const char *command, int n, char **why)
{
  if (fprintf (t->to, "%s %d\n", command, n) < 0 || fflush (t->to) != 0) {
    torch_stop (t, why);
    return NULL;
  }
  return torch_read (t, &t->message, why);
}

/* The frame formats --frame-format takes, as GStreamer names them */
static const struct {
  const char *name;
  HeedPixelFormat format;
} frame_formats[] = {
  { "RGBA", HEED_PIXEL_RGBA },   { "BGRx", HEED_PIXEL_BGRX }, { "RGB", HEED_PIXEL_RGB },
  { "I420", HEED_PIXEL_I420 },   { "NV12", HEED_PIXEL_NV12 }, { "YUY2", HEED_PIXEL_YUY2 },
  { "GRAY8", HEED_PIXEL_GRAY8 },
};

/* One forward pass of the run's whole batch (each slot the same input), from the frame when
 * there is one (the preprocessing timed too), else from the tensor; *last keeps the first
 * frame's result, whose timings cover the batch. */
static gboolean
forward_once (HeedVitRun *run, const float *input, const guint8 *frame,
              const HeedFrameLayout *layout, HeedVitResult **last, double *input_ms, GError **error)
{
  guint n = heed_vit_run_get_max_batch (run);
  HeedVitResult *results[64] = { NULL };
  const guint8 *planes[3] = { NULL, NULL, NULL };
  for (guint p = 0; frame && p < layout->n_planes; p++)
    planes[p] = frame + layout->offset[p];
  heed_vit_result_destroy (last);
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    if (!(frame ? heed_vit_run_set_frame (run, i, planes, layout->stride, error)
                : heed_vit_run_set_tensor (run, i, input, error)))
      return FALSE;
  if (input_ms)
    *input_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;
  if (!heed_vit_run_submit (run, n, error) || !heed_vit_run_wait (run, results, error))
    return FALSE;
  *last = results[0];
  for (guint i = 1; i < n; i++)
    heed_vit_result_destroy (&results[i]);
  return TRUE;
}

/* The pause before each side's turn, for the other side's threads to go idle: OpenBLAS's, under
 * PyTorch's GEMMs, spin for a while after each call (about 0.1 s: 2^28 cycles) and took a core
 * from the first of heed's runs after PyTorch's turn. Without it the turns' ratios of a DeiT-Tiny
 * forward pass ranged 1.73 to 3.42 in one run on a 2-core VM; with 300 ms, 1.89 to 2.23, 1.95 to
 * 2.11 and 1.97 to 2.49 in three (docs/benchmarks.md). */
#define TURN_SETTLE_MS 300

/* ms[k]: the result's GPU time in op family op_kinds[k], summed over its dispatches */
static void
kind_ms (const HeedVitResult *r, double ms[G_N_ELEMENTS (op_kinds)])
{
  for (guint k = 0; k < G_N_ELEMENTS (op_kinds); k++) {
    ms[k] = 0;
    for (guint i = 0; r && i < r->n_timings; i++)
      if (strcmp (r->timings[i].kind, op_kinds[k]) == 0)
        ms[k] += r->timings[i].ms;
  }
}

static double
median_of (const double *v, int n)
{
  double *sorted = g_memdup2 (v, n * sizeof *v);
  qsort (sorted, n, sizeof *sorted, heed_cli_compare_double);
  double m = sorted[n / 2];
  g_free (sorted);
  return m;
}

/* out[k]: the median over n runs (n rows of one value per op family) of op family k's ms */
static void
op_medians (const double *run_ops, int n, double out[G_N_ELEMENTS (op_kinds)])
{
  const guint nk = G_N_ELEMENTS (op_kinds);
  double *column = g_new (double, MAX (n, 1));
  for (guint k = 0; k < nk; k++) {
    for (int i = 0; i < n; i++)
      column[i] = run_ops[(gsize) i * nk + k];
    out[k] = n > 0 ? median_of (column, n) : 0;
  }
  g_free (column);
}

/* The checkpoint's path: the user's, else the random weights saved into a temporary folder
 * (kept in *tmp_dir and *tmp_model for the end to remove) for PyTorch and the pipelines. */
static const char *
checkpoint_path (const char *model_path, HeedModel *model, char **tmp_dir, char **tmp_model,
                 GError **error)
{
  if (model_path)
    return model_path;
  if (*tmp_model)
    return *tmp_model;
  if (!(*tmp_dir = g_dir_make_tmp ("heed-bench-XXXXXX", error)))
    return NULL;
  *tmp_model = g_build_filename (*tmp_dir, "model.safetensors", NULL);
  return heed_model_save (model, *tmp_model, error) ? *tmp_model : NULL;
}

/* The pipeline rows: the issue-13 pipeline and the one it is compared with, through the real
 * elements on the same checkpoint. A tool without the plugin says so in a line; FALSE when a
 * pipeline failed. */
static gboolean
print_pipelines (const char *model_path, const char *weights, int device_index, guint width,
                 guint height, guint frames)
{
  /* what follows heedclassify */
  static const char *downstream[] = { "heedkeyframe ! heedoverlay", "heedoverlay" };
  GError *error = NULL;
  gst_init (NULL, NULL);
  printf ("\npipeline: videotestsrc pattern=ball ! %ux%u at 30/1 ! ... ! fakesink sync=false, %u "
          "frames, the elements' defaults; the first %u frame%s (start-up) not counted\n",
          width, height, frames, MAX (frames / 10, 1), frames < 20 ? "" : "s");
  if (!heed_cli_find_plugin (&error)) {
    printf ("  not measured: %s\n", error->message);
    g_clear_error (&error);
    return TRUE;
  }
  gboolean ok = TRUE;
  printf ("%-44s %8s %10s %8s %8s %8s\n", "", "frames", "frames/s", "latency", "p95", "max ms");
  for (guint i = 0; i < G_N_ELEMENTS (downstream); i++) {
    HeedCliPipelineTiming t = { 0 };
    char *label = g_strdup_printf ("heedclassify ! %s", downstream[i]);
    if (heed_cli_bench_pipeline (downstream[i], model_path, weights, device_index, width, height,
                                 frames, &t, &error))
      printf ("%-44s %8u %10.2f %8.2f %8.2f %8.2f\n", label, t.frames, t.frames_per_second,
              t.latency_median_ms, t.latency_p95_ms, t.latency_max_ms);
    else
      printf ("%-44s failed: %s\n", label, error->message), ok = FALSE;
    g_clear_error (&error);
    g_free (label);
  }
  printf ("latency: a frame's time from heedclassify's sink pad to the sink (median, 95th "
          "percentile, most).\n");
  return ok;
}

/* The FLOPs of an op family over the whole model, as PyTorch runs it: heed's own count, with the
 * last block's (which runs only the class rows from its attention on, in a class-token model)
 * counted as the block's before it, since every block has the same shapes. */
static double
whole_model_flops (const HeedOpTiming *t, guint n_t, const char *kind, guint depth)
{
  double f = 0;
  for (guint i = 0; i < n_t; i++) {
    guint block = 0;
    gboolean in_block = sscanf (t[i].name, "blocks.%u.", &block) == 1 && depth >= 2;
    if (strcmp (t[i].kind, kind) != 0 || (in_block && block == depth - 1))
      continue;
    f += in_block && block == depth - 2 ? 2 * t[i].flops : t[i].flops;
  }
  return f;
}

/* percent of the device's peak */
static double
share_of (double gflops, double peak)
{
  return peak > 0 ? 100.0 * gflops / peak : 0;
}

int
heed_cmd_bench (int argc, char **argv)
{
  char *model_path = NULL, *shape_name = NULL, *python = NULL, *frame_size = NULL;
  char *frame_format = NULL;
  char *weights_name = NULL, *pipeline_size = NULL, *torch_device = NULL;
  int runs = 10, warmup = 2, turns = 5, device_index = -1, pipeline_frames = 150, batch = 1;
  int dim = 0, depth = 0, heads = 0, patch = 0, img = 0, classes = -1;
  gboolean no_torch = FALSE, dispatches = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      "checkpoint (safetensors, or PyTorch's pytorch_model.bin)", "M" },
    { "shape", 's', 0, G_OPTION_ARG_STRING, &shape_name,
      "random weights in a named shape: deit-tiny (default), deit-small, vit-base", "NAME" },
    { "dim", 0, 0, G_OPTION_ARG_INT, &dim, "override the shape's embedding dim", "D" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth, "override the number of blocks", "N" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "override the number of heads", "H" },
    { "patch", 0, 0, G_OPTION_ARG_INT, &patch, "override the patch size", "P" },
    { "img", 0, 0, G_OPTION_ARG_INT, &img, "override the image size", "S" },
    { "classes", 0, 0, G_OPTION_ARG_INT, &classes, "override the class count (0: head-less)", "C" },
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "timed forward passes (median reported)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "untimed passes first", "N" },
    { "device", 'd', 0, G_OPTION_ARG_INT, &device_index, "Vulkan device index", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch,
      "frames per submission, 1 (default) to 64: the forward row times whole batches, and both "
      "sides' frames/s follow (PyTorch runs batches of as many)",
      "N" },
    { "no-torch", 0, 0, G_OPTION_ARG_NONE, &no_torch, "skip the PyTorch comparison", NULL },
    { "torch-device", 0, 0, G_OPTION_ARG_STRING, &torch_device,
      "where PyTorch runs: cpu (default) or cuda (an NVIDIA GPU, float32 without TF32)", "WHERE" },
    { "turns", 0, 0, G_OPTION_ARG_INT, &turns,
      "split the timed runs into N turns, each heed's runs then PyTorch's, so that a machine "
      "whose speed drifts slows both sides of a turn alike (default 5; at most --runs)",
      "N" },
    { "frame", 0, 0, G_OPTION_ARG_STRING, &frame_size,
      "feed frames of WxH pixels (timing the preprocessing too) instead of a tensor", "WxH" },
    { "frame-format", 0, 0, G_OPTION_ARG_STRING, &frame_format,
      "the --frame frames' format: RGBA (default), BGRx, RGB, I420, NV12, YUY2 or GRAY8", "F" },
    { "dispatches", 0, 0, G_OPTION_ARG_NONE, &dispatches,
      "also list every dispatch of the last run", NULL },
    { "python", 0, 0, G_OPTION_ARG_FILENAME, &python,
      "Python with torch (default: $HEED_PYTHON or /usr/bin/python3)", "PATH" },
    HEED_CLI_WEIGHTS_ENTRY (weights_name),
    { "pipeline-frames", 0, 0, G_OPTION_ARG_INT, &pipeline_frames,
      "frames through each element pipeline (heedclassify ! heedkeyframe ! heedoverlay, and "
      "heedclassify ! heedoverlay) after the model's rows, for their frames/s and per-frame "
      "latency; 0 skips them (default 150)",
      "N" },
    { "pipeline-size", 0, 0, G_OPTION_ARG_STRING, &pipeline_size,
      "the pipelines' frame size (default 640x480)", "WxH" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- time a ViT forward pass, per op, beside PyTorch");
  GError *error = NULL;
  HeedModel *model = NULL;
  HeedDevice *device = NULL;
  HeedVitPlan *plan = NULL;
  /* run times every dispatch (the op rows), plain runs the passes the forward row times: on
   * lavapipe the timestamp queries slow a whole pass by about a tenth (docs/benchmarks.md) */
  HeedVitRun *run = NULL, *plain = NULL;
  HeedVitResult *last = NULL, *plain_last = NULL;
  TorchTurns torch = { 0 };
  char *tmp_dir = NULL, *tmp_model = NULL, *torch_why = NULL;
  double *times = NULL, *input_times = NULL, *torch_times = NULL, *ratios = NULL;
  double *stamped_times = NULL; /* the timestamped passes' wall times */
  /* per op family (NK of them): heed's GPU ms in each timed run, PyTorch's median in each turn
   * (-1: none), and heed's GFLOP/s as a share of PyTorch's in each turn */
  double *run_ops = NULL, *torch_ops = NULL, *shares = NULL;
  float *input = NULL;
  guint8 *frame = NULL;
  HeedFrameLayout layout = { 0 };
  int status = 1;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto fail;
  if (runs < 1 || warmup < 0) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--runs must be >= 1");
    goto fail;
  }
  if (batch < 1 || batch > 64) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--batch must be 1 to 64");
    goto fail;
  }
  if (torch_device && strcmp (torch_device, "cpu") != 0 && strcmp (torch_device, "cuda") != 0) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--torch-device takes cpu or cuda");
    goto fail;
  }
  if (turns < 1) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--turns must be >= 1");
    goto fail;
  }
  guint pw = 640, ph = 480;
  if (pipeline_frames < 0 || (pipeline_frames > 0 && pipeline_frames < 12)) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID,
                 "--pipeline-frames must be 0 (none) or at least 12");
    goto fail;
  }
  if (pipeline_size && (sscanf (pipeline_size, "%ux%u", &pw, &ph) != 2 || pw < 16 || ph < 16 ||
                        pw > 16384 || ph > 16384)) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID,
                 "--pipeline-size takes WxH, 16 to 16384 pixels each way, e.g. 640x480");
    goto fail;
  }
  guint fw = 0, fh = 0;
  HeedPixelFormat format = HEED_PIXEL_RGBA;
  if (frame_size && sscanf (frame_size, "%ux%u", &fw, &fh) != 2) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--frame takes WxH, e.g. 1920x1080");
    goto fail;
  }
  if (frame_format && !frame_size) {
    g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "--frame-format needs --frame");
    goto fail;
  }
  if (frame_format) {
    guint i = 0;
    while (i < G_N_ELEMENTS (frame_formats) &&
           g_ascii_strcasecmp (frame_format, frame_formats[i].name))
      i++;
    if (i == G_N_ELEMENTS (frame_formats)) {
      g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID,
                   "--frame-format: unknown format '%s' (RGBA, BGRx, RGB, I420, NV12, YUY2 or "
                   "GRAY8)",
                   frame_format);
      goto fail;
    }
    format = frame_formats[i].format;
  }
  HeedVitOptions opts = { .profile = TRUE };
  if (weights_name && !heed_weight_format_parse (weights_name, &opts.weights, &error))
    goto fail;

  if (model_path) {
    if (!(model = heed_model_load (model_path, &error)))
      goto fail;
  } else {
    const Shape *s = NULL;
    for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
      if (g_strcmp0 (shape_name ? shape_name : "deit-tiny", shapes[i].name) == 0)
        s = &shapes[i];
    if (!s) {
      g_set_error (&error, HEED_ERROR, HEED_ERROR_INVALID, "unknown shape '%s'", shape_name);
      goto fail;
    }
    HeedModelConfig c = { 0 };
    c.img_size = img > 0 ? (guint) img : s->img;
    c.patch_size = patch > 0 ? (guint) patch : s->patch;
    c.dim = dim > 0 ? (guint) dim : s->dim;
    c.depth = depth > 0 ? (guint) depth : s->depth;
    c.num_heads = heads > 0 ? (guint) heads : s->heads;
    c.num_classes = classes >= 0 ? (guint) classes : s->classes;
    c.mlp_hidden = 4 * c.dim;
    if (!(model = heed_model_new_random (&c, 1, &error)))
      goto fail;
  }
  const HeedModelConfig *c = &model->config;
  double flops = heed_model_flops (c) * batch; /* a timed pass is a whole batch */

  double peak = 0;
  if (!(device = heed_device_new (device_index, &error)) ||
      !heed_device_measure_peak (device, &peak, &error) ||
      !(plan = heed_vit_plan_new (device, model, &opts, &error)) ||
      !(run = heed_vit_run_new (plan, (guint) batch, &error)) ||
      !(plain = heed_vit_run_new (plan, (guint) batch, &error)))
    goto fail;
  heed_vit_run_set_profile (plain, FALSE);

  if (frame_size) {
    /* tightly packed planes: a first layout, with room to spare, gives the engine's own bytes
     * of pixels per row of each plane, which become the strides */
    guint roomy[3] = { 4 * fw, 4 * fw, 4 * fw }, tight[3];
    if (!heed_frame_layout_init (&layout, format, fw, fh, roomy, &error))
      goto fail;
    memcpy (tight, layout.row_bytes, sizeof tight);
    if (!heed_frame_layout_init (&layout, format, fw, fh, tight, &error))
      goto fail;
    heed_frame_layout_use_model (&layout, c);
    if (!heed_vit_run_set_frame_layout (run, &layout, &error) ||
        !heed_vit_run_set_frame_layout (plain, &layout, &error))
      goto fail;
    frame = g_malloc (layout.size);
    for (gsize i = 0; i < layout.size; i++)
      frame[i] = (guint8) ((i * 2654435761u) >> 13);
  }
  gsize n_in = (gsize) c->in_chans * c->img_size * c->img_size;
  input = g_new (float, n_in);
  for (gsize i = 0; i < n_in; i++)
    input[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  /* PyTorch first: its checkpoint load and thread choice run before any of heed's timed runs */
  JsonObject *tj = NULL;
  if (!no_torch) {
    const char *py = python                     ? python
                     : g_getenv ("HEED_PYTHON") ? g_getenv ("HEED_PYTHON")
                                                : "/usr/bin/python3";
    const char *path = checkpoint_path (model_path, model, &tmp_dir, &tmp_model, &error);
    if (!path)
      goto fail;
    gboolean cuda = g_strcmp0 (torch_device, "cuda") == 0;
    tj = torch_start (&torch, py, path, runs, batch, cuda ? "cuda" : "cpu",
                      cuda && opts.weights == HEED_WEIGHTS_F16_MATMUL, &torch_why);
  }
  for (int i = 0; i < warmup; i++)
    if (!forward_once (plain, input, frame, &layout, &plain_last, NULL, &error) ||
        !forward_once (run, input, frame, &layout, &last, NULL, &error))
      goto fail;
  /* the turns: each times its share of heed's runs, then as many of PyTorch's */
  int n_turns = tj ? MIN (turns, runs) : 1, done = 0;
  times = g_new (double, runs);
  input_times = g_new (double, runs);
  stamped_times = g_new (double, runs);
  torch_times = g_new (double, runs);
  ratios = g_new (double, n_turns);
  enum { NK = G_N_ELEMENTS (op_kinds) };
  run_ops = g_new0 (double, (gsize) runs *NK);
  torch_ops = g_new (double, (gsize) n_turns *NK);
  shares = g_new (double, (gsize) n_turns *NK);
  for (int i = 0; i < n_turns * NK; i++)
    torch_ops[i] = shares[i] = -1;
  for (int turn = 0; turn < n_turns; turn++) {
    int k = runs / n_turns + (turn < runs % n_turns);
    /* untimed, as PyTorch's turns begin: the first pass after the other side's turn wakes the
     * threads and warms the caches */
    if (turn > 0)
      g_usleep (TURN_SETTLE_MS * 1000);
    if (turn > 0 && !forward_once (plain, input, frame, &layout, &plain_last, NULL, &error))
      goto fail;
    /* each timed pass, then one with the timestamps for the op rows, as PyTorch's turn times
     * its forward passes, then as many with a timer around each op */
    for (int i = 0; i < k; i++) {
      gint64 t0 = g_get_monotonic_time ();
      if (!forward_once (plain, input, frame, &layout, &plain_last, &input_times[done + i], &error))
        goto fail;
      times[done + i] = (double) (g_get_monotonic_time () - t0) / 1000.0;
      t0 = g_get_monotonic_time ();
      if (!forward_once (run, input, frame, &layout, &last, NULL, &error))
        goto fail;
      stamped_times[done + i] = (double) (g_get_monotonic_time () - t0) / 1000.0;
      kind_ms (last, &run_ops[(gsize) (done + i) * NK]);
    }
    if (tj)
      g_usleep (TURN_SETTLE_MS * 1000);
    JsonObject *answer = tj ? torch_ask (&torch, "forward", k, &torch_why) : NULL;
    JsonArray *ms = answer && json_object_has_member (answer, "times")
                        ? json_object_get_array_member (answer, "times")
                        : NULL;
    if (tj && (!ms || json_array_get_length (ms) != (guint) k)) {
      if (!torch_why)
        torch_why = g_strdup ("bench_torch.py gave no times");
      torch_stop (&torch, NULL);
      tj = NULL;
    }
    if (tj) {
      for (int i = 0; i < k; i++)
        torch_times[done + i] = json_array_get_double_element (ms, i);
      ratios[turn] = median_of (times + done, k) / median_of (torch_times + done, k);
      /* each op family too, in the same turn: PyTorch's medians over as many passes, timed
       * around each op, beside heed's medians over this turn's runs */
      JsonObject *ops = (answer = torch_ask (&torch, "ops", k, &torch_why)) &&
                                json_object_has_member (answer, "ops")
                            ? json_object_get_object_member (answer, "ops")
                            : NULL;
      double heed_turn[NK];
      op_medians (run_ops + (gsize) done * NK, k, heed_turn);
      for (guint q = 0; ops && q < NK; q++) {
        if (!json_object_has_member (ops, op_kinds[q]))
          continue;
        double tms = json_object_get_double_member (ops, op_kinds[q]);
        torch_ops[turn * NK + q] = tms;
        double hf = 0,
               tf = last ? whole_model_flops (last->timings, last->n_timings, op_kinds[q], c->depth)
                         : 0;
        for (guint i = 0; last && i < last->n_timings; i++)
          if (strcmp (last->timings[i].kind, op_kinds[q]) == 0)
            hf += last->timings[i].flops;
        if (heed_turn[q] > 0 && tms > 0 && tf > 0)
          shares[turn * NK + q] = (hf / heed_turn[q]) / (tf / tms);
      }
    }
    done += k;
  }
  double heed_ms = median_of (times, runs);
  double torch_ms = tj ? median_of (torch_times, runs) : 0;

  printf ("device: %s\n", heed_device_get_name (device));
  printf ("peak:   %.2f GFLOP/s (multiply-add chains in registers: shaders/peak.comp)\n", peak);
  printf ("model:  %s: %u px, patch %u, dim %u, depth %u, heads %u, %u classes, %u tokens; "
          "%.3f GFLOP per frame\n",
          model_path ? model_path : (shape_name ? shape_name : "deit-tiny"), c->img_size,
          c->patch_size, c->dim, c->depth, c->num_heads, c->num_classes, c->tokens,
          flops / batch / 1e9);
  printf ("weights: %s for the matrix multiplies (%s); %.1f MB of weights on the device\n",
          heed_weight_format_name (opts.weights),
          opts.weights == HEED_WEIGHTS_F16_MATMUL
              ? "their activations rounded to half, float32 sums: peak is float32's"
              : "float32 arithmetic",
          heed_vit_plan_get_weight_bytes (plan) / 1e6);
  if (batch > 1)
    printf ("batch:  %d frames a submission; the forward and op rows time whole batches\n", batch);
  if (tj && g_strcmp0 (torch_device, "cuda") == 0)
    printf ("torch:  PyTorch %s on CUDA (%s), %s, eager, taking turns with heed (%d turns)\n",
            json_object_get_string_member (tj, "version"),
            json_object_get_string_member_with_default (tj, "device", "?"),
            json_object_get_boolean_member_with_default (tj, "fp16_matmul", FALSE)
                ? "autocast float16 (matrix multiplies in halves on tensor cores)"
                : "float32 without TF32",
            n_turns);
  else if (tj) {
    gint64 blas = json_object_get_int_member_with_default (tj, "blas_threads", 0);
    char *gemms = blas > 0 ? g_strdup_printf ("; its OpenBLAS GEMMs on %" G_GINT64_FORMAT
                                              " thread(s) of their own",
                                              blas)
                           : g_strdup ("");
    printf ("torch:  PyTorch %s on the CPU, %" G_GINT64_FORMAT " thread(s) (the faster of 1 and "
            "one per core%s), taking turns with heed (%d turns), each side's after %d ms for the "
            "other's threads to go idle\n",
            json_object_get_string_member (tj, "version"),
            json_object_get_int_member (tj, "threads"), gemms, n_turns, TURN_SETTLE_MS);
    g_free (gemms);
  } else if (!no_torch)
    printf ("torch:  not compared: %s\n", torch_why);
  printf ("\n%-12s %10s %10s %12s %7s %10s %12s %8s\n", "", "GFLOP", "heed ms", "heed GFLOP/s",
          "% peak", "torch ms", "torch GFLOP/s", tj ? "% torch" : "");
  printf ("%-12s %10.3f %10.2f %12.2f %7.1f", "forward", flops / 1e9, heed_ms,
          flops / heed_ms / 1e6, share_of (flops / heed_ms / 1e6, peak));
  if (tj)
    printf (" %10.2f %12.2f", torch_ms, flops / torch_ms / 1e6);
  printf ("\n");

  guint n_t = last->n_timings;
  const HeedOpTiming *t = last->timings;
  double heed_op_ms[NK];
  op_medians (run_ops, runs, heed_op_ms);
  GString *spread = g_string_new (NULL);
  double *tms_turns = g_new (double, n_turns), *share_turns = g_new (double, n_turns);
  for (guint k = 0; k < NK && n_t > 0; k++) {
    double ms = heed_op_ms[k], f = 0;
    for (guint i = 0; i < n_t; i++)
      if (strcmp (t[i].kind, op_kinds[k]) == 0)
        f += t[i].flops;
    if (f == 0 && ms == 0)
      continue;
    double gf = ms > 0 ? f / ms / 1e6 : 0;
    printf ("%-12s %10.3f %10.2f %12.2f %7.1f", op_kinds[k], f / 1e9, ms, gf, share_of (gf, peak));
    /* PyTorch's: the median of its turns' medians; the share, the median of the turns' shares */
    int n_tms = 0, n_share = 0;
    /* the share only for families that do at least 1% of the model's work: the LayerNorms
     * heed folds into its GEMMs leave it next to none to compare */
    gboolean compared = f >= 0.01 * flops;
    for (int turn = 0; tj && turn < n_turns; turn++) {
      if (torch_ops[turn * NK + k] >= 0)
        tms_turns[n_tms++] = torch_ops[turn * NK + k];
      if (compared && shares[turn * NK + k] >= 0)
        share_turns[n_share++] = shares[turn * NK + k];
    }
    if (n_tms > 0) {
      double tms = median_of (tms_turns, n_tms);
      double tf = whole_model_flops (t, n_t, op_kinds[k], c->depth);
      printf (" %10.2f %12.2f", tms, tms > 0 ? tf / tms / 1e6 : 0);
    }
    if (n_share > 0) {
      double lo = share_turns[0], hi = share_turns[0];
      for (int i = 1; i < n_share; i++)
        lo = MIN (lo, share_turns[i]), hi = MAX (hi, share_turns[i]);
      printf (" %8.0f", 100 * median_of (share_turns, n_share));
      g_string_append_printf (spread, "%s%s %.0f%% (%.0f to %.0f)", spread->len ? ", " : "",
                              op_kinds[k], 100 * median_of (share_turns, n_share), 100 * lo,
                              100 * hi);
    }
    printf ("\n");
  }
  for (guint i = 0; dispatches && i < n_t; i++)
    printf ("  %-28s %8.3f ms %8.2f GFLOP/s %5.1f%% of peak\n", t[i].name, t[i].ms,
            t[i].ms > 0 ? t[i].flops / t[i].ms / 1e6 : 0,
            share_of (t[i].ms > 0 ? t[i].flops / t[i].ms / 1e6 : 0, peak));
  if (n_t == 0)
    printf ("(no per-op timings: the device has no compute timestamps)\n");
  printf ("\nheed: median of %d runs after %d warm-up, run with no timestamps; per-op times: each "
          "run is followed by a pass with a timestamp around every dispatch, the median over "
          "those passes of each op family's GPU time, summed over layers; %% peak: heed's "
          "GFLOP/s as a share of the peak line.\n",
          runs, warmup);
  if (tj) {
    printf ("torch: median of %d runs, taken in turns with heed's; per-op times: each turn also "
            "times as many passes with a timer around each op in eager mode, the median of the "
            "turns' medians; its GFLOP/s count the whole model's work (the forward row's and "
            "PyTorch's), where heed's op rows count what heed ran (a class-token model's last "
            "block runs its class rows alone after the attention's keys and values); %% torch: "
            "heed's GFLOP/s as a share of PyTorch's, the median of the turns' shares, each "
            "turn's from its own runs (for the op families with 1%% or more of the work).\n",
            runs);
    if (spread->len)
      printf ("ops, heed's GFLOP/s as a share of PyTorch's, the median of %d turns' (their "
              "range): %s\n",
              n_turns, spread->str);
    /* each turn's ratio of medians: the two sides of a turn ran on the same machine moment */
    double lo = ratios[0], hi = ratios[0];
    for (int i = 1; i < n_turns; i++)
      lo = MIN (lo, ratios[i]), hi = MAX (hi, ratios[i]);
    printf ("forward, heed / PyTorch: %.2f times, the median of %d turns' ratios (%.2f to %.2f); "
            "the forward row's medians give %.2f\n",
            median_of (ratios, n_turns), n_turns, lo, hi, heed_ms / torch_ms);
  }
  g_string_free (spread, TRUE);
  g_free (tms_turns);
  g_free (share_turns);
  printf ("throughput: heed %.1f frames/s", batch * 1000.0 / heed_ms);
  if (tj)
    printf (", PyTorch %.1f frames/s", batch * 1000.0 / torch_ms);
  printf (" (batches of %d, from the forward row's medians)\n", batch);
  /* where the forward row's time goes beside the dispatches: the inputs written into the run's
   * host-visible memory, and the rest (submitting, waiting, reading the results back) */
  double dispatch_ms = 0;
  for (guint i = 0; i < n_t; i++)
    dispatch_ms += t[i].ms;
  printf ("staging: heed's forward row holds %.2f ms writing the %d input %s into host-visible "
          "memory (median)",
          median_of (input_times, runs), batch,
          frame ? (batch > 1 ? "frames" : "frame") : (batch > 1 ? "tensors" : "tensor"));
  if (n_t > 0)
    printf (", and the %u dispatches' GPU times in the last timestamped pass sum to %.2f ms", n_t,
            dispatch_ms);
  printf ("\n");
  if (n_t > 0)
    printf ("timestamps: the passes timed op by op took %.2f ms (median), the forward row's %.2f\n",
            median_of (stamped_times, runs), heed_ms);
  if (tj && json_object_has_member (tj, "upload_ms"))
    printf ("staging: PyTorch's forward row starts from a batch already on the GPU; copying it "
            "there from host memory (pageable, as torch.Tensor.to does) takes %.2f ms more "
            "(median)\n",
            json_object_get_double_member (tj, "upload_ms"));
  if (pipeline_frames > 0) {
    const char *path = checkpoint_path (model_path, model, &tmp_dir, &tmp_model, &error);
    if (!path)
      goto fail;
    /* the elements open their own device: this one's runs are done */
    heed_vit_run_destroy (&run);
    heed_vit_run_destroy (&plain);
    heed_vit_plan_destroy (&plan);
    heed_device_destroy (&device);
    fflush (stdout);
    if (!print_pipelines (path, weights_name, device_index, pw, ph, (guint) pipeline_frames)) {
      status = 1;
      goto out;
    }
  }
  status = 0;
  goto out;

fail:
  status = heed_cli_fail ("heed bench failed", error);
out:
  if (tmp_model)
    g_remove (tmp_model);
  if (tmp_dir)
    g_rmdir (tmp_dir);
  g_free (tmp_model);
  g_free (tmp_dir);
  torch_stop (&torch, NULL);
  g_clear_object (&torch.first);
  g_free (torch_why);
  g_free (torch_times);
  g_free (ratios);
  g_free (run_ops);
  g_free (torch_ops);
  g_free (shares);
  heed_vit_result_destroy (&last);
  heed_vit_result_destroy (&plain_last);
  heed_vit_run_destroy (&run);
  heed_vit_run_destroy (&plain);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&device);
  heed_model_destroy (&model);
  g_free (input);
  g_free (frame);
  g_free (frame_size);
  g_free (frame_format);
  g_free (times);
  g_free (input_times);
  g_free (stamped_times);
  g_free (model_path);
  g_free (shape_name);
  g_free (python);
  g_free (weights_name);
  g_free (pipeline_size);
  g_free (torch_device);
  g_option_context_free (ctx);
  return status;
}
