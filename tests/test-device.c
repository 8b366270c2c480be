/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device choice (automatic, by index, by name through HEED_DEVICE) and running on a device
 * someone else created, as the elements will with GStreamer's. */
#include "test-common.h"

#include <dlfcn.h>
#include <string.h>

/* ---- counting live VkInstances: this program's own vkCreateInstance and vkDestroyInstance,
 * which the engine (linked in statically) calls, in front of the loader's ---------------------- */

static gint instances_live;

VKAPI_ATTR VkResult VKAPI_CALL vkCreateInstance (const VkInstanceCreateInfo *info,
                                                 const VkAllocationCallbacks *allocator,
                                                 VkInstance *instance);
VKAPI_ATTR void VKAPI_CALL vkDestroyInstance (VkInstance instance,
                                              const VkAllocationCallbacks *allocator);

static void *
loader_entry (const char *name)
{
  void *f = dlsym (dlopen ("libvulkan.so.1", RTLD_NOW | RTLD_GLOBAL), name);
  g_assert_nonnull (f);
  return f;
}

VKAPI_ATTR VkResult VKAPI_CALL
vkCreateInstance (const VkInstanceCreateInfo *info, const VkAllocationCallbacks *allocator,
                  VkInstance *instance)
{
  static PFN_vkCreateInstance real;
  if (!real)
    real = (PFN_vkCreateInstance) loader_entry ("vkCreateInstance");
  VkResult r = real (info, allocator, instance);
  if (r == VK_SUCCESS)
    g_atomic_int_inc (&instances_live);
  return r;
}

VKAPI_ATTR void VKAPI_CALL
vkDestroyInstance (VkInstance instance, const VkAllocationCallbacks *allocator)
{
  static PFN_vkDestroyInstance real;
  if (!real)
    real = (PFN_vkDestroyInstance) loader_entry ("vkDestroyInstance");
  if (instance)
    g_atomic_int_add (&instances_live, -1);
  real (instance, allocator);
}

/* The Vulkan drivers stay loaded once a device was made: one bare instance stays for the
 * process, so destroying the last device does not unload the driver (NVIDIA's then crashed a
 * thread that had called into it, when the thread ended: docs/benchmarks.md). Runs first, before
 * any other test has made an instance. */
static void
test_drivers_stay_loaded (void)
{
  GError *error = NULL;
  g_assert_cmpint (g_atomic_int_get (&instances_live), ==, 0);
  for (guint round = 0; round < 2; round++) {
    HeedDevice *d = heed_device_new (-1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_atomic_int_get (&instances_live), ==, 2); /* the device's and the bare one */
    heed_device_destroy (&d);
    g_assert_cmpint (g_atomic_int_get (&instances_live), ==, 1);
  }
  assert_no_validation_messages ();
}

static void
test_list (void)
{
  GError *error = NULL;
  guint chosen = G_MAXUINT;
  GArray *infos = heed_device_list (&chosen, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (infos->len, >=, 1);
  g_assert_cmpuint (chosen, <, infos->len);
  g_assert_true (g_array_index (infos, HeedDeviceInfo, chosen).has_compute);
  g_array_unref (infos);
  assert_no_validation_messages ();
}

static void
test_choice (void)
{
  GError *error = NULL;
  HeedDevice *d = heed_device_new (0, &error);
  g_assert_no_error (error);
  char *name = g_strdup (heed_device_get_name (d));
  heed_device_destroy (&d);
  g_assert_null (d);
  heed_device_destroy (&d); /* accepts &NULL */

  /* HEED_DEVICE as a case-insensitive part of the name */
  char *part = g_utf8_strup (name, 4);
  g_setenv ("HEED_DEVICE", part, TRUE);
  d = heed_device_new (-1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (heed_device_get_name (d), ==, name);
  heed_device_destroy (&d);

  g_setenv ("HEED_DEVICE", "0", TRUE);
  d = heed_device_new (-1, &error);
  g_assert_no_error (error);
  heed_device_destroy (&d);

  g_setenv ("HEED_DEVICE", "no such gpu", TRUE);
  g_assert_null (heed_device_new (-1, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE);
  g_assert_nonnull (strstr (error->message, "HEED_DEVICE=no such gpu"));
  g_clear_error (&error);

  g_setenv ("HEED_DEVICE", "99", TRUE);
  g_assert_null (heed_device_new (-1, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE);
  g_clear_error (&error);
  g_unsetenv ("HEED_DEVICE");

  g_assert_null (heed_device_new (42, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE);
  g_clear_error (&error);
  g_free (name);
  g_free (part);
  assert_no_validation_messages ();
}

static int lock_calls, unlock_calls;
static GMutex import_queue_mutex;

static void
lock_queue (void *data)
{
  g_assert_true (data == &import_queue_mutex);
  g_mutex_lock (&import_queue_mutex);
  lock_calls++;
}

static void
unlock_queue (void *data)
{
  unlock_calls++;
  g_mutex_unlock (&import_queue_mutex);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
count_message (VkDebugUtilsMessageSeverityFlagBitsEXT s, VkDebugUtilsMessageTypeFlagsEXT t,
               const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
  g_printerr ("validation (import test's own instance): %s\n", data->pMessage);
  (*(int *) user)++;
  return VK_FALSE;
}

/* The layer as the engine takes it: on unless HEED_VALIDATION is unset, empty or "0" (the
 * suite sets it; tools/check_asan.sh runs with it off, the layer not being heed's to check). */
static gboolean
validation_on (void)
{
  const char *v = g_getenv ("HEED_VALIDATION");
  return v && *v && strcmp (v, "0") != 0;
}

/* Our own instance and device with no optional features, like GStreamer 1.22's shared one. */
static void
test_import (void)
{
  const char *layer = "VK_LAYER_KHRONOS_validation";
  const char *ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  int messages = 0;
  VkDebugUtilsMessengerCreateInfoEXT dbg = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
    .pfnUserCallback = count_message,
    .pUserData = &messages,
  };
  VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                            .apiVersion = VK_API_VERSION_1_1 };
  VkInstanceCreateInfo ii = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                              .pNext = &dbg,
                              .pApplicationInfo = &app,
                              .enabledLayerCount = validation_on () ? 1 : 0,
                              .ppEnabledLayerNames = &layer,
                              .enabledExtensionCount = 1,
                              .ppEnabledExtensionNames = &ext };
  VkInstance instance;
  g_assert_cmpint (vkCreateInstance (&ii, NULL, &instance), ==, VK_SUCCESS);
  uint32_t n = 1;
  VkPhysicalDevice pd;
  vkEnumeratePhysicalDevices (instance, &n, &pd);
  g_assert_cmpuint (n, ==, 1);
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &nq, NULL);
  VkQueueFamilyProperties qf[16];
  nq = MIN (nq, 16);
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &nq, qf);
  uint32_t family = 0;
  while (!(qf[family].queueFlags & VK_QUEUE_GRAPHICS_BIT)) /* GStreamer takes graphics */
    family++;
  float prio = 1;
  VkDeviceQueueCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                 .queueFamilyIndex = family,
                                 .queueCount = 1,
                                 .pQueuePriorities = &prio };
  VkDeviceCreateInfo di = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                            .queueCreateInfoCount = 1,
                            .pQueueCreateInfos = &qi };
  VkDevice device;
  VkQueue queue;
  g_assert_cmpint (vkCreateDevice (pd, &di, NULL, &device), ==, VK_SUCCESS);
  vkGetDeviceQueue (device, family, 0, &queue);

  GError *error = NULL;
  HeedDeviceImport imp = { instance, pd,         device,       queue,
                           family,   lock_queue, unlock_queue, &import_queue_mutex };
  HeedDevice *d = heed_device_new_import (&imp, &error);
  g_assert_no_error (error);

  /* a whole model on the imported device, against the C reference */
  HeedModelConfig shape = { .img_size = 32,
                            .patch_size = 8,
                            .dim = 32,
                            .depth = 2,
                            .num_heads = 2,
                            .mlp_hidden = 64,
                            .num_classes = 4 };
  HeedModel *m = heed_model_new_random (&shape, 11, &error);
  GRand *rng = g_rand_new_with_seed (5);
  float *input = random_floats (rng, 3 * 32 * 32, -1, 1), want[4];
  heed_ref_vit_forward (m, input, want, NULL, NULL, NULL);
  HeedVitPlan *plan = heed_vit_plan_new (d, m, NULL, &error);
  g_assert_no_error (error);
  HeedVitRun *run = heed_vit_run_new (plan, 1, &error);
  g_assert_no_error (error);
  HeedVitResult *result = heed_vit_run_tensor (run, input, &error);
  g_assert_no_error (error);
  /* the result is the caller's: it outlives the run, the plan and the caller's device */
  heed_vit_run_destroy (&run);
  heed_vit_plan_destroy (&plan);
  heed_device_destroy (&d);
  assert_close (result->logits, want, 4, 1e-4);
  heed_vit_result_destroy (&result);
  g_assert_cmpint (lock_calls, >, 0); /* every submission went through the owner's lock */
  g_assert_cmpint (lock_calls, ==, unlock_calls);

  heed_model_destroy (&m);
  g_free (input);
  g_rand_free (rng);
  /* the handles are still ours and still valid */
  g_assert_cmpint (vkDeviceWaitIdle (device), ==, VK_SUCCESS);
  vkDestroyDevice (device, NULL);
  vkDestroyInstance (instance, NULL);
  g_assert_cmpint (messages, ==, 0);

  HeedDeviceImport bad = { 0 };
  g_assert_null (heed_device_new_import (&bad, &error));
  g_assert_error (error, HEED_ERROR, HEED_ERROR_INVALID);
  g_clear_error (&error);
  assert_no_validation_messages ();
}

static GPtrArray *logged;

static void
capture_log (HeedLogLevel level, const char *message, void *user_data)
{
  g_ptr_array_add (logged, g_strdup_printf ("%d %s", level, message));
}

static void
test_log_callback (void)
{
  GError *error = NULL;
  logged = g_ptr_array_new_with_free_func (g_free);
  heed_set_log_func (capture_log, NULL);
  HeedDevice *d = heed_device_new (-1, &error);
  g_assert_no_error (error);
  gboolean seen = FALSE;
  for (guint i = 0; i < logged->len; i++)
    seen |= strstr (g_ptr_array_index (logged, i), "using Vulkan device") != NULL;
  g_assert_true (seen);
  heed_device_destroy (&d);
  heed_set_log_func (NULL, NULL);
  g_ptr_array_unref (logged);
  assert_no_validation_messages ();
}

/* The suite runs with HEED_VALIDATION=sync; this shows that setting reaches the layer: two fills
 * of one buffer with no barrier between them are a write-after-write hazard that only the
 * synchronisation checks see. Runs last: it leaves messages counted. */
static void
test_sync_validation_sees_a_hazard (void)
{
  if (!validation_on ()) {
    g_test_skip ("HEED_VALIDATION is off: this run does not check with the layer");
    return;
  }
  GError *error = NULL;
  const char *saved = g_getenv ("HEED_VALIDATION");
  char *restore = g_strdup (saved);
  g_setenv ("HEED_VALIDATION", "sync", TRUE);
  heed_set_log_func (capture_log, NULL); /* the expected message stays out of the test's log */
  logged = g_ptr_array_new_with_free_func (g_free);
  HeedDevice *d = heed_device_new (-1, &error);
  g_assert_no_error (error);
  HeedBuffer *b = heed_buffer_new (d, 4096, FALSE, &error);
  g_assert_no_error (error);
  VkCommandPool pool = heed_command_pool_new (d, &error);
  g_assert_no_error (error);
  VkCommandBuffer cmd = heed_command_buffer_new (d, pool, &error);
  g_assert_no_error (error);
  VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
  g_assert_cmpint (vkBeginCommandBuffer (cmd, &begin), ==, VK_SUCCESS);
  guint before = heed_validation_message_count ();
  vkCmdFillBuffer (cmd, b->buffer, 0, VK_WHOLE_SIZE, 1);
  vkCmdFillBuffer (cmd, b->buffer, 0, VK_WHOLE_SIZE, 2); /* no barrier: the hazard */
  g_assert_cmpint (vkEndCommandBuffer (cmd), ==, VK_SUCCESS);
  g_assert_cmpuint (heed_validation_message_count (), >, before);
  gboolean named = FALSE;
  for (guint i = 0; i < logged->len; i++)
    named |= strstr (g_ptr_array_index (logged, i), "SYNC-HAZARD-WRITE-AFTER-WRITE") != NULL;
  g_assert_true (named);
  vkDestroyCommandPool (heed_device_get_vk_device (d), pool, NULL);
  heed_buffer_destroy (&b);
  heed_device_destroy (&d);
  heed_set_log_func (NULL, NULL);
  g_ptr_array_unref (logged);
  if (restore)
    g_setenv ("HEED_VALIDATION", restore, TRUE);
  else
    g_unsetenv ("HEED_VALIDATION");
  g_free (restore);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("HEED_DEVICE");
  g_test_add_func ("/device/drivers-stay-loaded", test_drivers_stay_loaded);
  g_test_add_func ("/device/list", test_list);
  g_test_add_func ("/device/choice", test_choice);
  g_test_add_func ("/device/import", test_import);
  g_test_add_func ("/device/log-callback", test_log_callback);
  g_test_add_func ("/device/sync-validation-sees-a-hazard", test_sync_validation_sees_a_hazard);
  return g_test_run ();
}
