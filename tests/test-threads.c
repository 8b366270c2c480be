/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's threading promise and batches, under the validation layer:
 * - 4 threads x 50 runs on one device (two threads sharing one plan, two building their own
 *   plans at the same time) give results bit-identical to the same runs one by one;
 * - batches of 1 to 4 frames (tensors and frames) match single-frame runs within the parity
 *   tolerances;
 * - a run refuses what would corrupt a batch in flight. */
#include "test-common.h"

#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define RUNS 50
#define SIZE 40 /* frames of SIZE x SIZE RGBA */

static HeedModel *model;

static HeedModel *
threads_model (void)
{
  if (!model) {
    /* odd sizes: tokens (26) and dims (40, 72) fit no tile exactly */
    HeedModelConfig shape = { .img_size = 40,
                              .patch_size = 8,
                              .dim = 40,
                              .depth = 2,
                              .num_heads = 2,
                              .mlp_hidden = 72,
                              .num_classes = 7 };
    GError *error = NULL;
    model = heed_model_new_random (&shape, 99, &error);
    g_assert_no_error (error);
  }
  return model;
}

/* Input i: a tensor for even i, an RGBA frame for odd i, both seeded by i. */
static float *
tensor_input (guint i)
{
  GRand *rng = g_rand_new_with_seed (1000 + i);
  float *t = random_floats (rng, 3 * 40 * 40, -2, 2);
  g_rand_free (rng);
  return t;
}

static guint8 *
frame_input (guint i)
{
  GRand *rng = g_rand_new_with_seed (2000 + i);
  guint8 *f = g_malloc (4 * SIZE * SIZE);
  for (guint k = 0; k < 4 * SIZE * SIZE; k++)
    f[k] = (guint8) g_rand_int_range (rng, 0, 256);
  g_rand_free (rng);
  return f;
}

static void
frame_layout (HeedFrameLayout *l)
{
  guint stride[3] = { 4 * SIZE, 0, 0 };
  g_assert_true (heed_frame_layout_init (l, HEED_PIXEL_RGBA, SIZE, SIZE, stride, NULL));
}

/* Runs input i through run (slot 0) and waits. */
static HeedVitResult *
run_input (HeedVitRun *run, guint i, GError **error)
{
  if (i % 2 == 0) {
    float *t = tensor_input (i);
    HeedVitResult *r = heed_vit_run_tensor (run, t, error);
    g_free (t);
    return r;
  }
  guint8 *f = frame_input (i);
  const guint8 *planes[3] = { f, NULL, NULL };
  guint stride[3] = { 4 * SIZE, 0, 0 };
  HeedVitResult *r = run_frame_sync (run, planes, stride, error);
  g_free (f);
  return r;
}

static gboolean
results_identical (const HeedVitResult *a, const HeedVitResult *b)
{
  const HeedModelConfig *c = &a->config;
  return memcmp (a->logits, b->logits, c->num_classes * 4) == 0 &&
         memcmp (a->embedding, b->embedding, c->dim * 4) == 0 &&
         memcmp (a->cls_attention, b->cls_attention, c->num_patches * 4) == 0 &&
         memcmp (a->cls_attention_heads, b->cls_attention_heads,
                 (gsize) heed_attention_map_heads (c) * c->tokens * 4) == 0;
}

typedef struct {
  guint index;
  HeedVitPlan *shared_plan; /* NULL: the thread builds its own */
  HeedVitResult *results[RUNS];
  gchar *failure;
} Worker;

static gpointer
worker (gpointer data)
{
  Worker *w = data;
  GError *error = NULL;
  HeedVitPlan *plan = w->shared_plan
                          ? heed_vit_plan_ref (w->shared_plan)
                          : heed_vit_plan_new (get_device (), threads_model (), NULL, &error);
  HeedVitRun *run = plan ? heed_vit_run_new (plan, 1, &error) : NULL;
  HeedFrameLayout l;
  frame_layout (&l);
  if (run && !heed_vit_run_set_frame_layout (run, &l, &error))
    heed_vit_run_destroy (&run);
  for (guint k = 0; run && k < RUNS; k++)
    if (!(w->results[k] = run_input (run, w->index * RUNS + k, &error)))
      break;
  if (error)
    w->failure = g_strdup (error->message);
  g_clear_error (&error);
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  return NULL;
}

static void
test_threads (void)
{
  GError *error = NULL;
  HeedVitPlan *plan = heed_vit_plan_new (get_device (), threads_model (), NULL, &error);
  g_assert_no_error (error);

  /* one by one, on one run */
  HeedVitResult *want[THREADS * RUNS];
  HeedVitRun *run = heed_vit_run_new (plan, 1, &error);
  HeedFrameLayout l;
  frame_layout (&l);
  g_assert_true (heed_vit_run_set_frame_layout (run, &l, &error));
  for (guint i = 0; i < THREADS * RUNS; i++)
    g_assert_nonnull (want[i] = run_input (run, i, &error));
  heed_vit_run_destroy (&run);

  /* the same runs from four threads at once */
  Worker workers[THREADS] = { { 0 } };
  GThread *threads[THREADS];
  for (guint t = 0; t < THREADS; t++) {
    workers[t].index = t;
    workers[t].shared_plan = t % 2 == 0 ? plan : NULL;
    threads[t] = g_thread_new ("heed-test", worker, &workers[t]);
  }
  for (guint t = 0; t < THREADS; t++)
    g_thread_join (threads[t]);

  guint identical = 0;
  for (guint t = 0; t < THREADS; t++) {
    g_assert_null (workers[t].failure);
    for (guint k = 0; k < RUNS; k++) {
      identical += results_identical (workers[t].results[k], want[t * RUNS + k]);
      heed_vit_result_destroy (&workers[t].results[k]);
    }
  }
  g_test_message ("%u of %u threaded runs bit-identical to the sequential ones", identical,
                  THREADS * RUNS);
  g_assert_cmpuint (identical, ==, THREADS * RUNS);
  for (guint i = 0; i < THREADS * RUNS; i++)
    heed_vit_result_destroy (&want[i]);
  heed_vit_plan_destroy (&plan);
  assert_no_validation_messages ();
}

static void
assert_results_close (const HeedVitResult *got, const HeedVitResult *want)
{
  const HeedModelConfig *c = &want->config;
  /* the parity tolerances (README: Correctness) */
  double scale = 1;
  for (guint k = 0; k < c->num_classes; k++)
    scale = MAX (scale, fabs (want->logits[k]));
  for (guint k = 0; k < c->num_classes; k++)
    g_assert_cmpfloat (fabs (got->logits[k] - want->logits[k]), <=, 1e-3 * scale);
  for (guint k = 0; k < c->num_patches; k++)
    g_assert_cmpfloat (fabs (got->cls_attention[k] - want->cls_attention[k]), <=, 1e-4);
  assert_close (got->embedding, want->embedding, c->dim, 1e-5);
  gsize nl = want->layer_attention ? (gsize) c->depth * c->tokens * c->tokens : 0;
  for (gsize k = 0; k < nl; k++)
    g_assert_cmpfloat (fabs (got->layer_attention[k] - want->layer_attention[k]), <=, 1e-4);
  g_assert_cmpint (got->has_layout, ==, want->has_layout);
}

/* Submits the n staged slots of batch as one batch and checks each result against the
 * single-frame one (both freed). */
static void
assert_batch_matches (HeedVitRun *batch, guint n, HeedVitResult **want)
{
  GError *error = NULL;
  HeedVitResult *got[4] = { NULL };
  g_assert_cmpuint (n, <=, G_N_ELEMENTS (got));
  g_assert_true (heed_vit_run_submit (batch, n, &error));
  g_assert_true (heed_vit_run_wait (batch, got, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++) {
    assert_results_close (got[i], want[i]);
    heed_vit_result_destroy (&got[i]);
    heed_vit_result_destroy (&want[i]);
  }
}

static void
batches_with (gboolean layer_attention)
{
  GError *error = NULL;
  HeedVitOptions opts = { .layer_attention = layer_attention };
  HeedVitPlan *plan = heed_vit_plan_new (get_device (), threads_model (), &opts, &error);
  g_assert_no_error (error);
  HeedVitRun *single = heed_vit_run_new (plan, 1, &error);
  HeedVitRun *batch = heed_vit_run_new (plan, 4, &error);
  g_assert_no_error (error);
  HeedFrameLayout l;
  frame_layout (&l);
  g_assert_true (heed_vit_run_set_frame_layout (single, &l, &error));
  g_assert_true (heed_vit_run_set_frame_layout (batch, &l, &error));
  g_assert_cmpuint (heed_vit_run_get_max_batch (batch), ==, 4);

  /* 4, then 1, 3 and 2: each batch size re-used after a larger one */
  const guint sizes[] = { 4, 1, 3, 2 };
  for (guint kind = 0; kind < 2; kind++) /* tensors, then frames */
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      guint n = sizes[s];
      HeedVitResult *want[4];
      for (guint i = 0; i < n; i++) {
        guint input = 2 * (10 * s + i) + kind; /* even: tensor, odd: frame */
        want[i] = run_input (single, input, &error);
        g_assert_nonnull (want[i]);
        if (kind == 0) {
          float *t = tensor_input (input);
          g_assert_true (heed_vit_run_set_tensor (batch, i, t, &error));
          g_free (t);
        } else {
          guint8 *f = frame_input (input);
          const guint8 *planes[3] = { f, NULL, NULL };
          guint stride[3] = { 4 * SIZE, 0, 0 };
          g_assert_true (heed_vit_run_set_frame (batch, i, planes, stride, &error));
          g_free (f);
        }
      }
      assert_batch_matches (batch, n, want);
    }
  heed_vit_run_destroy (&single);
  heed_vit_run_destroy (&batch);
  heed_vit_plan_destroy (&plan);
  assert_no_validation_messages ();
}

/* With rollout's per-layer attention (every row of every block), and without (the last block
 * then runs its class row alone, each frame's at its own offset in the batch) */
static void
test_batches (void)
{
  batches_with (TRUE);
  batches_with (FALSE);
}

/* Batches of the other layouts (DeiT distilled: its dist token and head; 4 registers with a
 * pos_embed over the patches alone; average pooling without a class token; a CLIP tower with
 * norm_pre and QuickGELU; transformers' DINOv2 classifier on each frame's class and mean patch
 * tokens, and its registers; average pooling after the final norm; attention pooling; BEiT's
 * relative position bias, each frame's scores starting from it, in every block or one shared;
 * SwiGLU's gate over each frame's rows; EVA-02's rotation of every frame's patch rows, its MLP
 * norm over all rows or each frame's class row, its CLIP towers' attention norm on each frame's
 * class row; DINOv3's rotation past its 5 prefix rows; RoPE-Mixed's tables a block; AIMv2's
 * patch embedding norm, each frame's patch rows normed and added to its positions; Swin's
 * windows of every frame, its gathers and merging, without rollout, which it refuses; Swin V2
 * at twice its size, each frame's map from its last stage's 4 windows) match the same frames
 * one by one. */
static void
test_batches_other_layouts (void)
{
  const char *names[] = { "deit_distilled_f32", "vit_reg4_f32",        "vit_gap_f32",
                          "clip_quickgelu_f32", "hf_dinov2_cls_f32",   "hf_dinov2_reg_f32",
                          "vit_gap_norm_f32",   "vit_map_f32",         "beit_f32",
                          "hf_data2vec_f32",    "dinov2_swiglu_f32",   "eva02_base_f32",
                          "eva02_token_f32",    "eva02_clip_f32",      "dinov3_small_f32",
                          "rope_sbb_f32",       "rope_mixed_f32",      "pe_core_f32",
                          "pe_spatial_f32",     "open_clip_trunk_f32", "timm_aimv2_f32",
                          "aimv2_apple_f32",    "vit_intern_f32",      "hf_blip_f32",
                          "swin_f32",           "swinv2_f32",          "hf_swinv2_f32@64",
                          "hf_swin_f32@40",     "swinv2_f32@40" };
  for (guint k = 0; k < 2 * G_N_ELEMENTS (names); k++) { /* with rollout, then without */
    GError *error = NULL;
    /* NAME@SIZE: at another input size (a Swin's last stage then several windows, each
     * frame's map put on the grid from them; at 40 px grids the windows do not tile, padded) */
    char **name_size = g_strsplit (names[k / 2], "@", 2);
    char *path = g_build_filename (g_getenv ("HEED_FIXTURES"), name_size[0], NULL);
    HeedModel *m = heed_model_load (path, &error);
    g_assert_no_error (error);
    if (name_size[1])
      g_assert_true (heed_model_set_input_size (m, (guint) atoi (name_size[1]), &error));
    g_strfreev (name_size);
    HeedVitOptions opts = { .layer_attention = k % 2 == 0 };
    HeedVitPlan *plan = heed_vit_plan_new (get_device (), m, &opts, &error);
    if (m->config.swin_stages && opts.layer_attention) { /* rollout is for one sequence */
      g_assert_null (plan);
      g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
      g_clear_error (&error);
      heed_model_destroy (&m);
      g_free (path);
      continue;
    }
    HeedVitRun *single = heed_vit_run_new (plan, 1, &error);
    HeedVitRun *batch = heed_vit_run_new (plan, 3, &error);
    g_assert_no_error (error);
    gsize n = (gsize) 3 * m->config.img_size * m->config.img_size;
    HeedVitResult *want[3];
    for (guint i = 0; i < 3; i++) {
      GRand *rng = g_rand_new_with_seed (70 + i);
      float *t = random_floats (rng, n, -2, 2);
      g_assert_nonnull (want[i] = heed_vit_run_tensor (single, t, &error));
      g_assert_true (heed_vit_run_set_tensor (batch, i, t, &error));
      g_free (t);
      g_rand_free (rng);
    }
    assert_batch_matches (batch, 3, want);
    heed_vit_run_destroy (&single);
    heed_vit_run_destroy (&batch);
    heed_vit_plan_destroy (&plan);
    heed_model_destroy (&m);
    g_free (path);
  }
  assert_no_validation_messages ();
}

/* What would corrupt a batch is refused with HEED_ERROR_INVALID, and the run stays usable. */
static void
test_run_misuse (void)
{
  GError *error = NULL;
  HeedVitPlan *plan = heed_vit_plan_new (get_device (), threads_model (), NULL, &error);
  HeedVitRun *run = heed_vit_run_new (plan, 2, &error);
  g_assert_no_error (error);
  float *t = tensor_input (0);
  HeedVitResult *r[2] = { NULL };

  g_assert_false (heed_vit_run_submit (run, 1, &error)); /* nothing staged */
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (heed_vit_run_set_tensor (run, 2, t, &error)); /* past the batch */
  g_clear_error (&error);
  g_assert_false (heed_vit_run_wait (run, r, &error)); /* nothing submitted */
  g_clear_error (&error);
  g_assert_null (heed_vit_run_new (plan, 0, &error));
  g_clear_error (&error);

  g_assert_true (heed_vit_run_set_tensor (run, 0, t, &error));
  guint8 *f = frame_input (1);
  const guint8 *planes[3] = { f, NULL, NULL };
  guint stride[3] = { 4 * SIZE, 0, 0 };
  g_assert_false (heed_vit_run_set_frame (run, 1, planes, stride, &error)); /* no layout */
  g_clear_error (&error);
  HeedFrameLayout l;
  frame_layout (&l);
  g_assert_true (heed_vit_run_set_frame_layout (run, &l, &error));
  g_assert_true (heed_vit_run_set_frame (run, 1, planes, stride, &error));
  g_assert_false (heed_vit_run_submit (run, 2, &error)); /* a tensor and a frame */
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (heed_vit_run_set_tensor (run, 1, t, &error));
  g_assert_true (heed_vit_run_submit (run, 2, &error));
  g_assert_false (heed_vit_run_set_tensor (run, 0, t, &error)); /* in flight */
  g_clear_error (&error);
  g_assert_false (heed_vit_run_submit (run, 1, &error));
  g_clear_error (&error);
  g_assert_true (heed_vit_run_wait (run, r, &error));
  g_assert_true (heed_vit_run_is_done (run));
  g_assert_true (results_identical (r[0], r[1])); /* the same tensor in both slots */
  heed_vit_result_destroy (&r[0]);
  heed_vit_result_destroy (&r[1]);

  /* destroying a run with a batch in flight waits for it */
  g_assert_true (heed_vit_run_set_tensor (run, 0, t, &error));
  g_assert_true (heed_vit_run_submit (run, 1, &error));
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  g_free (t);
  g_free (f);
  assert_no_validation_messages ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/threads/four-threads-bit-identical", test_threads);
  g_test_add_func ("/threads/batches-match-single-frames", test_batches);
  g_test_add_func ("/threads/batches-other-layouts", test_batches_other_layouts);
  g_test_add_func ("/threads/run-misuse", test_run_misuse);
  int status = g_test_run ();
  heed_model_destroy (&model);
  heed_device_destroy (&test_device);
  return status;
}
