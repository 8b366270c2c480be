/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Faults injected into the engine (HEED_FAULT, engine/device.c): every memory allocation of a
 * model's load and forward pass failing in turn, and a device lost at each of its submissions.
 * Each must end in a clear error, with everything freed (the validation layer names any Vulkan
 * object left at vkDestroyDevice), never a crash or a hang; and the next device, made without
 * the fault, must run as before. */
#include "test-common.h"

#include <string.h>

typedef struct {
  HeedModel *model;
  float *input;
  float *embedding; /* from a run without faults */
  guint dim;
} Fixture;

static Fixture fx;

/* Loads the model onto a fresh device made with fault `spec` and runs one forward pass.
 * Returns the device's counters through allocations/submissions. */
static gboolean
run_with_fault (const char *spec, guint *allocations, guint *submissions, GError **error)
{
  g_setenv ("HEED_FAULT", spec, TRUE);
  HeedDevice *d = heed_device_new (-1, error);
  g_unsetenv ("HEED_FAULT");
  if (!d)
    return FALSE;
  HeedVitPlan *plan = heed_vit_plan_new (d, fx.model, NULL, error);
  HeedVitRun *run = plan ? heed_vit_run_new (plan, 1, error) : NULL;
  HeedVitResult *result = run ? heed_vit_run_tensor (run, fx.input, error) : NULL;
  gboolean ok = result != NULL;
  if (ok && fx.embedding) { /* the same device kind, the same result, bit for bit */
    g_assert_cmpuint (result->config.dim, ==, fx.dim);
    g_assert_cmpmem (result->embedding, fx.dim * sizeof (float), fx.embedding,
                     fx.dim * sizeof (float));
  } else if (ok) {
    fx.dim = result->config.dim;
    fx.embedding = g_memdup2 (result->embedding, fx.dim * sizeof (float));
  }
  if (allocations)
    *allocations = (guint) g_atomic_int_get (&d->allocations);
  if (submissions)
    *submissions = (guint) g_atomic_int_get (&d->submissions);
  heed_vit_result_destroy (&result);
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&d);
  return ok;
}

/* Runs with fault KIND:n for n = 1 .. count: each must fail with a one-line error naming
 * vk_error. */
static void
fail_at_each (const char *kind, guint count, const char *vk_error)
{
  GError *error = NULL;
  for (guint n = 1; n <= count; n++) {
    char *spec = g_strdup_printf ("%s:%u", kind, n);
    g_assert_false (run_with_fault (spec, NULL, NULL, &error));
    g_assert_error (error, HEED_ERROR, HEED_ERROR_VULKAN);
    g_assert_nonnull (strstr (error->message, vk_error));
    g_assert_null (strchr (error->message, '\n'));
    if (n == 1 || n == count)
      g_test_message ("%s: %s", spec, error->message);
    g_clear_error (&error);
    g_free (spec);
  }
}

static void
test_every_allocation_fails_in_turn (void)
{
  GError *error = NULL;
  guint allocations = 0;
  g_assert_true (run_with_fault ("", &allocations, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (allocations, >, 10); /* weights, activations, staging: many sites */
  g_test_message ("%u allocations in a load and a forward pass; each fails in turn", allocations);
  fail_at_each ("alloc", allocations, "VK_ERROR_OUT_OF_DEVICE_MEMORY");
  /* one past the last allocation: nothing fails, and the result is the same */
  char *spec = g_strdup_printf ("alloc:%u", allocations + 1);
  g_assert_true (run_with_fault (spec, NULL, NULL, &error));
  g_assert_no_error (error);
  g_free (spec);
  assert_no_validation_messages ();
}

static void
test_device_lost_at_each_submission (void)
{
  GError *error = NULL;
  guint submissions = 0;
  g_assert_true (run_with_fault ("", NULL, &submissions, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (submissions, >, 1); /* uploads, then the forward pass */
  g_test_message ("%u submissions in a load and a forward pass; the device lost at each",
                  submissions);
  fail_at_each ("lost", submissions, "VK_ERROR_DEVICE_LOST");
  /* the recovery a user makes, a new device, runs as before */
  g_assert_true (run_with_fault ("", NULL, NULL, &error));
  g_assert_no_error (error);
  assert_no_validation_messages ();
}

/* A lost device stays lost: a run that worked fails at every later pass, and never hangs. */
static void
test_lost_device_stays_lost (void)
{
  GError *error = NULL;
  guint submissions = 0;
  g_assert_true (run_with_fault ("", NULL, &submissions, &error));
  char *spec = g_strdup_printf ("lost:%u", submissions + 1); /* the second forward pass */
  g_setenv ("HEED_FAULT", spec, TRUE);
  HeedDevice *d = heed_device_new (-1, &error);
  g_unsetenv ("HEED_FAULT");
  g_assert_no_error (error);
  HeedVitPlan *plan = heed_vit_plan_new (d, fx.model, NULL, &error);
  g_assert_no_error (error);
  HeedVitRun *run = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  HeedVitResult *result = heed_vit_run_tensor (run, fx.input, &error);
  g_assert_no_error (error);
  heed_vit_result_destroy (&result);
  for (int i = 0; i < 3; i++) {
    g_assert_null (heed_vit_run_tensor (run, fx.input, &error));
    g_assert_error (error, HEED_ERROR, HEED_ERROR_VULKAN);
    g_clear_error (&error);
  }
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&d);
  g_free (spec);
  assert_no_validation_messages ();
}

/* A fault spec that is not one logs a warning and injects nothing. */
static void
test_bad_spec_injects_nothing (void)
{
  GError *error = NULL;
  g_assert_true (run_with_fault ("alloc:", NULL, NULL, &error));
  g_assert_true (run_with_fault ("lost:x", NULL, NULL, &error));
  g_assert_true (run_with_fault ("disk:1", NULL, NULL, &error));
  g_assert_no_error (error);
  assert_no_validation_messages ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *fixtures = g_getenv ("HEED_FIXTURES");
  g_assert_nonnull (fixtures);
  GError *error = NULL;
  char *path = g_build_filename (fixtures, "headless_f32", "model.safetensors", NULL);
  fx.model = heed_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  path = g_build_filename (fixtures, "headless_f32", "input.f32", NULL);
  g_assert_true (g_file_get_contents (path, (char **) &fx.input, NULL, NULL));
  g_free (path);
  g_test_add_func ("/faults/every-allocation-fails-in-turn", test_every_allocation_fails_in_turn);
  g_test_add_func ("/faults/device-lost-at-each-submission", test_device_lost_at_each_submission);
  g_test_add_func ("/faults/lost-device-stays-lost", test_lost_device_stays_lost);
  g_test_add_func ("/faults/bad-spec-injects-nothing", test_bad_spec_injects_nothing);
  int rc = g_test_run ();
  heed_model_destroy (&fx.model);
  g_free (fx.input);
  g_free (fx.embedding);
  return rc;
}
