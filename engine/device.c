/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance and device choice, device import, the validation messenger, queue locking. */
#include "heed-private.h"

#include <string.h>

static gint validation_messages;

guint
heed_validation_message_count (void)
{
  return (guint) g_atomic_int_get (&validation_messages);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_validation_message (VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                       VkDebugUtilsMessageTypeFlagsEXT type,
                       const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
  /* The loader reports through the same messenger (type GENERAL, no message id), e.g. "Found
   * no drivers!"; those are logged, but only the validation layer's own findings count. */
  if ((type & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT)) ||
      data->pMessageIdName)
    g_atomic_int_inc (&validation_messages);
  heed_log (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? HEED_LOG_ERROR
                                                                      : HEED_LOG_WARNING,
            "Vulkan validation: %s", data->pMessage);
  return VK_FALSE;
}

static void
destroy_instance (VkInstance instance, VkDebugUtilsMessengerEXT messenger)
{
  if (messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr (
            instance, "vkDestroyDebugUtilsMessengerEXT");
    destroy (instance, messenger, NULL);
  }
  vkDestroyInstance (instance, NULL);
}

static gboolean
validation_requested (void)
{
  const char *v = g_getenv ("HEED_VALIDATION");
  return v && *v && strcmp (v, "0") != 0;
}

/* HEED_VALIDATION=sync adds the layer's synchronisation validation: hazards between
 * dispatches, copies and host access that the plain checks cannot see. */
static gboolean
sync_validation_requested (void)
{
  return g_strcmp0 (g_getenv ("HEED_VALIDATION"), "sync") == 0;
}

static gboolean
layer_available (const char *name)
{
  uint32_t n = 0;
  gboolean found = FALSE;
  vkEnumerateInstanceLayerProperties (&n, NULL);
  VkLayerProperties *layers = g_new0 (VkLayerProperties, MAX (n, 1));
  vkEnumerateInstanceLayerProperties (&n, layers);
  for (uint32_t i = 0; i < n; i++)
    found |= strcmp (layers[i].layerName, name) == 0;
  g_free (layers);
  return found;
}

/* Keeps the Vulkan drivers loaded for the rest of the process: one bare instance, made once and
 * never destroyed (a static pointer holds it, so leak checkers see it reachable). Destroying the
 * last instance unloads the driver, and NVIDIA's leaves thread-specific data whose destructors
 * then point into unmapped code: a GStreamer streaming thread that called into the driver
 * crashed when it ended after its pipeline (seen on an H200 with driver 580, in the second
 * pipeline of `heed bench`; Mesa's drivers never unload, so lavapipe cannot show it). */
static void
keep_drivers_loaded (void)
{
  static gsize once = 0;
  static VkInstance resident = VK_NULL_HANDLE;
  if (!g_once_init_enter (&once))
    return;
  VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                            .pApplicationName = "heed",
                            .apiVersion = VK_API_VERSION_1_1 };
  VkInstanceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pApplicationInfo = &app };
  if (vkCreateInstance (&info, NULL, &resident) != VK_SUCCESS)
    resident = VK_NULL_HANDLE; /* the instance heed uses reports any failure */
  g_once_init_leave (&once, 1);
}

/* Creates our own instance, with the validation layer and its messenger when asked for. */
static VkInstance
create_instance (VkDebugUtilsMessengerEXT *messenger, GError **error)
{
  static const char *validation_layer = "VK_LAYER_KHRONOS_validation";
  static const char *debug_ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  gboolean validate = validation_requested ();
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r;

  if (validate && !layer_available (validation_layer)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "HEED_VALIDATION is set but %s is not installed "
                 "(Debian package vulkan-validationlayers)",
                 validation_layer);
    return VK_NULL_HANDLE;
  }

  keep_drivers_loaded ();
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "heed",
    .pEngineName = "heed",
    .apiVersion = VK_API_VERSION_1_1,
  };
  VkDebugUtilsMessengerCreateInfoEXT dbg = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
    .pfnUserCallback = on_validation_message,
  };
  static const VkValidationFeatureEnableEXT sync_feature =
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features = {
    .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
    .pNext = &dbg,
    .enabledValidationFeatureCount = 1,
    .pEnabledValidationFeatures = &sync_feature,
  };
  /* the validation layer implements VK_EXT_validation_features itself */
  const char *extensions[] = { debug_ext, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME };
  gboolean sync = validate && sync_validation_requested ();
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    /* the messenger here also catches messages from vkCreate/DestroyInstance */
    .pNext = sync       ? (const void *) &features
             : validate ? (const void *) &dbg
                        : NULL,
    .pApplicationInfo = &app,
    .enabledLayerCount = validate ? 1 : 0,
    .ppEnabledLayerNames = &validation_layer,
    .enabledExtensionCount = sync       ? 2
                             : validate ? 1
                                        : 0,
    .ppEnabledExtensionNames = extensions,
  };
  r = vkCreateInstance (&info, NULL, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "no Vulkan driver is installed: install mesa-vulkan-drivers (lavapipe runs "
                 "heed on the CPU) or your GPU's Vulkan driver (vkCreateInstance: %s)",
                 heed_vk_result_name (r));
    return VK_NULL_HANDLE;
  }
  if (r != VK_SUCCESS) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN, "vkCreateInstance failed: %s",
                 heed_vk_result_name (r));
    return VK_NULL_HANDLE;
  }
  if (validate) {
    PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr (
            instance, "vkCreateDebugUtilsMessengerEXT");
    if (!create || create (instance, &dbg, NULL, messenger) != VK_SUCCESS) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN,
                   "vkCreateDebugUtilsMessengerEXT failed: the validation layer cannot report");
      vkDestroyInstance (instance, NULL);
      return VK_NULL_HANDLE;
    }
  }
  return instance;
}

static int
compute_queue_family (VkPhysicalDevice pd)
{
  uint32_t n = 0;
  int found = -1;
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, NULL);
  VkQueueFamilyProperties *q = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, q);
  for (uint32_t i = 0; i < n && found < 0; i++)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      found = (int) i;
  g_free (q);
  return found;
}

static int
type_rank (VkPhysicalDeviceType t)
{
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_OTHER: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
  default: return 0;
  }
}

/* Picks among `infos` as heed_device_new (-1) would; returns -1 with error set if none fits. */
static int
choose_device (GArray *infos, int index, GError **error)
{
  const char *env = g_getenv ("HEED_DEVICE");
  int best = -1;

  if (index < 0 && env && *env) {
    char *end = NULL;
    gint64 v = g_ascii_strtoll (env, &end, 10);
    if (end && *end == '\0') {
      index = (int) v;
    } else {
      char *want = g_utf8_strdown (env, -1);
      for (guint i = 0; i < infos->len && best < 0; i++) {
        HeedDeviceInfo *di = &g_array_index (infos, HeedDeviceInfo, i);
        char *have = g_utf8_strdown (di->name, -1);
        if (strstr (have, want) && di->has_compute)
          best = (int) i;
        g_free (have);
      }
      g_free (want);
      if (best < 0)
        g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                     "HEED_DEVICE=%s matches no Vulkan device with a compute queue "
                     "(run `heed devices` to list them)",
                     env);
      return best;
    }
  }
  if (index >= 0) {
    if ((guint) index >= infos->len || !g_array_index (infos, HeedDeviceInfo, index).has_compute) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                   "Vulkan device %d does not exist or has no compute queue (%u devices; run "
                   "`heed devices` to list them)",
                   index, infos->len);
      return -1;
    }
    return index;
  }
  for (guint i = 0; i < infos->len; i++) {
    HeedDeviceInfo *di = &g_array_index (infos, HeedDeviceInfo, i);
    if (di->has_compute &&
        (best < 0 ||
         type_rank (di->type) > type_rank (g_array_index (infos, HeedDeviceInfo, best).type)))
      best = (int) i;
  }
  if (best < 0)
    g_set_error (error, HEED_ERROR, HEED_ERROR_NO_DEVICE,
                 "no Vulkan device with a compute queue: install mesa-vulkan-drivers (lavapipe "
                 "runs heed on the CPU) or your GPU's Vulkan driver");
  return best;
}

static GArray *
list_physical (VkInstance instance, VkPhysicalDevice **handles, GError **error)
{
  uint32_t n = 0;
  VkResult r = vkEnumeratePhysicalDevices (instance, &n, NULL);
  if (r != VK_SUCCESS) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN, "vkEnumeratePhysicalDevices failed: %s",
                 heed_vk_result_name (r));
    return NULL;
  }
  VkPhysicalDevice *pds = g_new0 (VkPhysicalDevice, MAX (n, 1));
  vkEnumeratePhysicalDevices (instance, &n, pds);
  GArray *infos = g_array_new (FALSE, TRUE, sizeof (HeedDeviceInfo));
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    HeedDeviceInfo di = { .index = i };
    vkGetPhysicalDeviceProperties (pds[i], &p);
    g_strlcpy (di.name, p.deviceName, sizeof di.name);
    di.type = p.deviceType;
    di.has_compute = compute_queue_family (pds[i]) >= 0 && p.apiVersion >= VK_API_VERSION_1_1;
    g_array_append_val (infos, di);
  }
  if (handles)
    *handles = pds;
  else
    g_free (pds);
  return infos;
}

GArray *
heed_device_list (guint *chosen, GError **error)
{
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkInstance instance = create_instance (&messenger, error);
  if (!instance)
    return NULL;
  GArray *infos = list_physical (instance, NULL, error);
  if (infos && chosen) {
    int c = choose_device (infos, -1, NULL);
    *chosen = c < 0 ? G_MAXUINT : (guint) c;
  }
  destroy_instance (instance, messenger);
  return infos;
}

#define LAVAPIPE_WIDTH_VARIABLE "LP_NATIVE_VECTOR_WIDTH"

/* Whether this CPU has AVX-512F, with the OS saving its registers. */
static gboolean
cpu_has_avx512 (void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  /* libgcc's check covers the OS's support (XCR0) as well as the CPU's */
  __builtin_cpu_init ();
  return __builtin_cpu_supports ("avx512f") != 0;
#else
  return FALSE;
#endif
}

/* Whether Mesa's own switches take AVX-512 from llvmpipe whatever the CPU has (its
 * util/u_cpu_detect.c): GALLIUM_NOSSE set true, or GALLIUM_OVERRIDE_CPU_CAPS at one of the levels
 * below AVX-512 (any other value Mesa ignores). 512-bit vectors in AVX2 code ran DeiT-Tiny 1.4
 * to 1.5 times slower than 256 (docs/benchmarks.md). */
static gboolean
mesa_caps_exclude_avx512 (void)
{
  static const char *const below_avx512[] = { "nosse", "sse",    "sse2", "sse3",
                                              "ssse3", "sse4.1", "avx",  NULL };
  static const char *const truths[] = { "1", "y", "yes", "t", "true", NULL };
  const char *caps = g_getenv ("GALLIUM_OVERRIDE_CPU_CAPS");
  const char *nosse = g_getenv ("GALLIUM_NOSSE");
  char *nosse_lower = nosse ? g_ascii_strdown (nosse, -1) : NULL;
  gboolean excluded = (caps && g_strv_contains (below_avx512, caps)) ||
                      (nosse_lower && g_strv_contains (truths, nosse_lower));
  g_free (nosse_lower);
  return excluded;
}

/* 512-bit vectors would pay and nobody chose the width: the tool sets it, the plugin hints */
static gboolean
wide_vectors_unchosen (void)
{
  return !g_getenv (LAVAPIPE_WIDTH_VARIABLE) && cpu_has_avx512 () && !mesa_caps_exclude_avx512 ();
}

gboolean
heed_lavapipe_use_wide_vectors (void)
{
  return wide_vectors_unchosen () && g_setenv (LAVAPIPE_WIDTH_VARIABLE, "512", FALSE);
}

/* lavapipe at 8 lanes on a CPU with AVX-512, in a process that did not choose the width: say
 * once what 512 bits would give (heed_lavapipe_use_wide_vectors). */
static void
hint_wide_vectors (const HeedDevice *d)
{
  static gsize hinted;
  if (d->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU || d->subgroup_size != 8 ||
      !wide_vectors_unchosen () || !g_once_init_enter (&hinted))
    return;
  heed_log (HEED_LOG_INFO,
            "%s runs 8-lane vectors on a CPU with AVX-512: " LAVAPIPE_WIDTH_VARIABLE
            "=512 in the environment, before the process starts, ran heed's DeiT-Tiny "
            "10-26%% faster (the heed tool sets it itself)",
            d->props.deviceName);
  g_once_init_leave (&hinted, 1);
}

static void
pipeline_free (gpointer p)
{
  g_free (p); /* Vulkan objects are destroyed in heed_device_destroy, which has the device */
}

/* lavapipe's shuffle kernel for subgroups of `lanes` (4, 8 or 16) among its three widths; the
 * variant storing C in pairs where pairs is set (a GEMM's). */
static HeedKernel
shuffle_variant (guint lanes, gboolean pairs, HeedShaderId sg4, HeedShaderId sg8, HeedShaderId sg16)
{
  HeedShaderId id = lanes == 4 ? sg4 : lanes == 8 ? sg8 : sg16;
  return (HeedKernel){ pairs ? heed_gemm_with_pairs (id) : id, lanes };
}

/* lavapipe's 16-lane shuffle GEMMs (32 rows a workgroup), each beside its twin taking 40 */
static const HeedShaderId gemm_rows_40[][2] = {
  { HEED_SHADER_GEMM_K4_SG16_TEXELS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_SM, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_SM },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_BT, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_BT },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_PAIRS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_LN_PAIRS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_LN_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_SM_PAIRS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_SM_PAIRS },
  { HEED_SHADER_GEMM_K4_SG16_TEXELS_BT_PAIRS, HEED_SHADER_GEMM_K4_SG16R40_TEXELS_BT_PAIRS },
};

static HeedShaderId
with_40_rows (HeedShaderId shader)
{
  for (guint i = 0; i < G_N_ELEMENTS (gemm_rows_40); i++)
    if (gemm_rows_40[i][0] == shader)
      return gemm_rows_40[i][1];
  return HEED_SHADER_COUNT;
}

void
heed_kernels_fit_rows (HeedKernels *k, guint rows)
{
  HeedShaderId plain = with_40_rows (k->gemm_k4.shader), bt = with_40_rows (k->gemm_k4_bt.shader),
               ln = with_40_rows (k->gemm_k4_ln.shader),
               sm = with_40_rows (k->gemm_k4_softmax.shader);
  if (plain == HEED_SHADER_COUNT || bt == HEED_SHADER_COUNT || ln == HEED_SHADER_COUNT ||
      sm == HEED_SHADER_COUNT || rows == 0 ||
      heed_round_up (rows, 40) >= heed_round_up (rows, k->row_align))
    return;
  k->gemm_k4.shader = plain, k->gemm_k4_bt.shader = bt;
  k->gemm_k4_ln.shader = ln, k->gemm_k4_softmax.shader = sm;
  k->row_align = 40;
}

static gboolean
has_device_extension (VkPhysicalDevice physical, const char *name)
{
  uint32_t n = 0;
  gboolean found = FALSE;
  if (vkEnumerateDeviceExtensionProperties (physical, NULL, &n, NULL) == VK_SUCCESS) {
    VkExtensionProperties *ext = g_new0 (VkExtensionProperties, MAX (n, 1));
    if (vkEnumerateDeviceExtensionProperties (physical, NULL, &n, ext) == VK_SUCCESS)
      for (uint32_t i = 0; i < n && !found; i++)
        found = strcmp (ext[i].extensionName, name) == 0;
    g_free (ext);
  }
  return found;
}

/* The fewest lanes a subgroup of the device can have: a device whose subgroup size varies per
 * shader (VK_EXT_subgroup_size_control) reports its minimum there; others have the one size
 * they report. */
static guint
min_subgroup_size (HeedDevice *d, guint reported)
{
  gboolean varies =
      has_device_extension (d->physical_device, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  if (!varies)
    return reported;
  VkPhysicalDeviceSubgroupSizeControlPropertiesEXT sc = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT,
  };
  VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                     .pNext = &sc };
  vkGetPhysicalDeviceProperties2 (d->physical_device, &p2);
  return MIN (reported, MAX (sc.minSubgroupSize, 1));
}

/* The kernel table: chosen once per device from what it reports, and from the one optional
 * feature heed enables on its own devices (shaderInt64; an imported device, like GStreamer's,
 * is not assumed to have it, and gets the same table storing floats). */
static void
choose_kernels (HeedDevice *d)
{
  HeedKernels *k = &d->kernels;
  VkPhysicalDeviceSubgroupProperties sg = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
  };
  VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                     .pNext = &sg };
  vkGetPhysicalDeviceProperties2 (d->physical_device, &p2);
  d->subgroup_size = MAX (sg.subgroupSize, 1);
  gboolean compute_sg = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
  gboolean cpu = d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  /* HEED_KERNELS=gpu|cpu: the table chosen as for that kind of device, whatever this one is
   * (the tests run the GPU kernels on lavapipe this way; for benchmarks too) */
  const char *force = g_getenv ("HEED_KERNELS");
  if (g_strcmp0 (force, "gpu") == 0 || g_strcmp0 (force, "cpu") == 0)
    cpu = g_strcmp0 (force, "cpu") == 0;
  else if (force && *force)
    heed_log (HEED_LOG_WARNING, "HEED_KERNELS=%s is neither gpu nor cpu; ignored", force);

  /* GEMMs on lavapipe, which runs a workgroup on one CPU thread with the invocations across
   * the SIMD lanes (8 at 256-bit vectors, 16 at 512, 4 at 128): a workgroup is one subgroup, each
   * invocation owns a 16 x 4 block, A's rows reach every lane by shuffles, and A and B are read
   * as texel buffers. A texel fetch is a gather; a storage-buffer load there is a loop over the
   * lanes with a branch each, which is what limited the storage-buffer kernels: measured with
   * `heed bench --shape deit-tiny` on a 2-core AVX2 machine, the large GEMMs went from 4.3 to
   * 22-28 GFLOP/s. With texels, 16 x 4 beat 16 x 8 (12), 8 x 4 (16), 24 x 4 (15) and 32 x 4
   * (11). A workgroup narrower than the subgroup leaves lanes idle: the 2.4 times slowdown at
   * LP_NATIVE_VECTOR_WIDTH=512 of 8-wide workgroups. GPUs get the shared-memory TILED kernel
   * (256 invocations, 64 x 64 of C a workgroup; on an H200 17.6 to 21.8 TFLOP/s at batch 64, about
   * cuBLAS's float32: docs/benchmarks.md), or the storage-buffer register tiles where a workgroup
   * cannot have 256 invocations (Vulkan guarantees 128). */
  gboolean shuffle = compute_sg && (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
  /* The shuffle kernels need a workgroup to be exactly one subgroup: they have variants for 4, 8
   * and 16 lanes. lavapipe's subgroup is its vector width, so 4 lanes at 128 bits: a CPU without
   * AVX (QEMU's default CPU model), or GALLIUM_OVERRIDE_CPU_CAPS=sse4.1. */
  gboolean cpu_shuffle =
      cpu && shuffle && (sg.subgroupSize == 4 || sg.subgroupSize == 8 || sg.subgroupSize == 16);
  guint lanes = cpu_shuffle ? sg.subgroupSize : cpu ? 8 : 32;
  k->row_align = 16;        /* TM of the register-tiled kernels (the shuffle ones' below) */
  k->col_align = lanes * 8; /* their TN (8, or 4: also covered) across a workgroup */
  k->gemm = (HeedKernel){ HEED_SHADER_GEMM, lanes };
  /* With shaderInt64 enabled the shuffle GEMMs store C as 64-bit pairs of floats: a store
   * there is a loop over the lanes, one element each, and pairs halve those loops (measured with
   * tools/bench_rounds.sh: the DeiT-Tiny forward pass 10% faster). ops.c falls back to the
   * variant storing floats where C's layout does not allow pairs. */
  gboolean pairs = d->int64;
  gboolean sg_arithmetic =
      compute_sg && (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  k->gemm_k4 = (HeedKernel){ HEED_SHADER_GEMM_K4, lanes };
  k->gemm_k4_bt = k->gemm_k4_ln = k->gemm_k4_softmax = k->attention = k->attention_bias =
      (HeedKernel){ HEED_SHADER_COUNT, lanes };
  if (cpu_shuffle) {
    k->gemm_k4 = shuffle_variant (lanes, pairs, HEED_SHADER_GEMM_K4_SG4_TEXELS,
                                  HEED_SHADER_GEMM_K4_SG8_TEXELS, HEED_SHADER_GEMM_K4_SG16_TEXELS);
    k->gemm_k4_bt =
        shuffle_variant (lanes, pairs, HEED_SHADER_GEMM_K4_SG4_TEXELS_BT,
                         HEED_SHADER_GEMM_K4_SG8_TEXELS_BT, HEED_SHADER_GEMM_K4_SG16_TEXELS_BT);
    k->gemm_k4_ln =
        shuffle_variant (lanes, pairs, HEED_SHADER_GEMM_K4_SG4_TEXELS_LN,
                         HEED_SHADER_GEMM_K4_SG8_TEXELS_LN, HEED_SHADER_GEMM_K4_SG16_TEXELS_LN);
    k->gemm_k4_softmax =
        shuffle_variant (lanes, pairs, HEED_SHADER_GEMM_K4_SG4_TEXELS_SM,
                         HEED_SHADER_GEMM_K4_SG8_TEXELS_SM, HEED_SHADER_GEMM_K4_SG16_TEXELS_SM);
    /* the variants of one width share their TM (registry.txt: 32 at 16 lanes) */
    k->row_align = MAX (k->row_align, heed_shaders[k->gemm_k4.shader].tile_rows);
    /* the one-dispatch attention: a workgroup one subgroup, as the shuffle GEMMs, which also
     * needs the subgroup's maximum and sum */
    if (sg_arithmetic) {
      k->attention = shuffle_variant (lanes, FALSE, HEED_SHADER_ATTENTION_SG4,
                                      HEED_SHADER_ATTENTION_SG8, HEED_SHADER_ATTENTION_SG16);
      k->attention_bias =
          shuffle_variant (lanes, FALSE, HEED_SHADER_ATTENTION_SG4_BIAS,
                           HEED_SHADER_ATTENTION_SG8_BIAS, HEED_SHADER_ATTENTION_SG16_BIAS);
    }
  }
  const VkPhysicalDeviceLimits *lim = &d->props.limits;
  if (!cpu && lim->maxComputeWorkGroupInvocations >= 256 &&
      lim->maxComputeWorkGroupSize[0] >= 256) {
    k->gemm = k->gemm_k4 = (HeedKernel){ HEED_SHADER_GEMM_TILED, 256 };
    k->gemm_k4_bt.shader = k->gemm_k4_ln.shader = k->gemm_k4_softmax.shader = HEED_SHADER_COUNT;
  }
  /* GPUs: the one-dispatch attention in shared-memory tiles, with barriers between its steps,
   * the largest the device takes (measured on an H200 with `heed bench --batch 64`:
   * docs/benchmarks.md):
   * - attention_flash.comp, with shuffles in subgroups of 8 lanes or more and 32 kB of shared
   *   memory: 64 rows a workgroup of 128, keys 32 at a time staged in shared memory;
   * - attention_keys.comp, with subgroup arithmetic in subgroups of 8 or more and 26.5 kB: one key
   *   an invocation 64 at a time, 16 rows a workgroup of 64;
   * - else attention_tiled.comp (13.5 kB, under the 16 kB every device has): 16 keys a step, one
   *   row an invocation in the softmax. */
  guint min_lanes = min_subgroup_size (d, sg.subgroupSize);
  gboolean flash_fits = shuffle && min_lanes >= 8 && lim->maxComputeSharedMemorySize >= 32768;
  gboolean keys_fit = sg_arithmetic && min_lanes >= 8 && lim->maxComputeSharedMemorySize >= 27136;
  /* fp16-matmul (weights in halves, A rounded to half, float32 sums): on tensor cores where heed
   * enabled cooperative matrices (gemm.comp's COOPMAT: four 32-lane subgroups a workgroup),
   * elsewhere the table's own kind of kernel rounding A as it reads it */
  if (d->coopmat && !cpu && sg.subgroupSize == 32)
    k->gemm_half = k->gemm_half_k4 = (HeedKernel){ HEED_SHADER_GEMM_COOPMAT, 128 };
  else if (k->gemm.shader == HEED_SHADER_GEMM_TILED)
    k->gemm_half = k->gemm_half_k4 = (HeedKernel){ HEED_SHADER_GEMM_TILED_BH_AH, 256 };
  else {
    k->gemm_half = (HeedKernel){ HEED_SHADER_GEMM_BH_AH, lanes };
    k->gemm_half_k4 = (HeedKernel){ HEED_SHADER_GEMM_K4_BH_AH, lanes };
  }
  k->attention_bias_frames = !cpu;
  /* 64 invocations and 14.5 kB of shared memory: every device has them */
  k->attention_rows = (HeedKernel){ HEED_SHADER_ATTENTION_ROWS, 64 };
  if (!cpu) /* each of them adds a bias to the scores where a push constant says so */
    k->attention = k->attention_bias = flash_fits ? (HeedKernel){ HEED_SHADER_ATTENTION_FLASH, 128 }
                                       : keys_fit ? (HeedKernel){ HEED_SHADER_ATTENTION_KEYS, 64 }
                                                  : (HeedKernel){ HEED_SHADER_ATTENTION_TILED, 64 };

  /* Element-wise kernels: 8-lane workgroups made ~14k tiny workgroups per op on lavapipe. */
  k->small_lanes = 64;
  /* Row kernels give each row a subgroup, reading vec4s, where the device has subgroup
   * arithmetic; a workgroup then owns as many rows as it has subgroups by the reported size. */
  gboolean rows_sg = compute_sg && (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                     sg.subgroupSize > 1;
  k->layernorm = (HeedKernel){ HEED_SHADER_LAYERNORM, k->small_lanes };
  k->softmax = (HeedKernel){ HEED_SHADER_SOFTMAX, k->small_lanes };
  /* on lavapipe the rows are read as texels (a gather, where a storage-buffer load is a loop
   * over the lanes; see the GEMMs above) */
  k->layernorm_rows =
      rows_sg ? (HeedKernel){ cpu ? HEED_SHADER_LAYERNORM_SG_TEXELS : HEED_SHADER_LAYERNORM_SG,
                              k->small_lanes }
              : k->layernorm;
  k->softmax_rows =
      rows_sg ? (HeedKernel){ cpu ? HEED_SHADER_SOFTMAX_SG_TEXELS : HEED_SHADER_SOFTMAX_SG,
                              k->small_lanes }
              : k->softmax;
  k->rows_per_group = MAX (k->small_lanes / d->subgroup_size, 1);
  /* storage-buffer reads were most of the preprocessing's time there (the row pass's frame
   * words: 2.9 of 4.6 ms, 640x480 to 128 px) */
  k->preprocess_texels = cpu;
  /* the compositor's stores, like the GEMMs', two pixels at a time where there are 64-bit words
   * (measured: the overlay 23% less CPU time at 640x480 BGRA; docs/overlay.md) */
  k->composite_pairs = cpu && d->int64;
}

/* Fault injection, for the tests: HEED_FAULT=alloc:N makes the device's Nth memory allocation
 * fail with VK_ERROR_OUT_OF_DEVICE_MEMORY (once); HEED_FAULT=lost:N loses the device at its Nth
 * queue submission, which and every later one return VK_ERROR_DEVICE_LOST, as a lost device
 * does. Read when a device is set up (made by heed or imported). */
static void
inject_faults (HeedDevice *d, const char *spec)
{
  d->fail_allocation = d->lose_at_submit = 0;
  if (!spec || !*spec)
    return;
  guint64 n = 0;
  if (g_str_has_prefix (spec, "alloc:") &&
      g_ascii_string_to_unsigned (spec + 6, 10, 1, G_MAXUINT, &n, NULL))
    d->fail_allocation = (guint) n;
  else if (g_str_has_prefix (spec, "lost:") &&
           g_ascii_string_to_unsigned (spec + 5, 10, 1, G_MAXUINT, &n, NULL))
    d->lose_at_submit = (guint) n;
  else
    heed_log (HEED_LOG_WARNING, "HEED_FAULT=%s is neither alloc:N nor lost:N; ignored", spec);
}

/* Everything after the handles are known: properties, tiling choice, command pool. */
static gboolean
device_setup (HeedDevice *d, GError **error)
{
  uint32_t nq = 0;
  vkGetPhysicalDeviceProperties (d->physical_device, &d->props);
  vkGetPhysicalDeviceMemoryProperties (d->physical_device, &d->mem_props);
  vkGetPhysicalDeviceQueueFamilyProperties (d->physical_device, &nq, NULL);
  VkQueueFamilyProperties *qf = g_new0 (VkQueueFamilyProperties, MAX (nq, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (d->physical_device, &nq, qf);
  d->has_timestamps = d->queue_family < nq && qf[d->queue_family].timestampValidBits > 0 &&
                      d->props.limits.timestampPeriod > 0;
  d->timestamp_period_ns = d->props.limits.timestampPeriod;
  g_free (qf);

  choose_kernels (d);
  hint_wide_vectors (d);
  inject_faults (d, g_getenv ("HEED_FAULT"));

  g_mutex_init (&d->queue_mutex);
  g_mutex_init (&d->command_mutex);
  g_mutex_init (&d->pipeline_mutex);
  d->pipelines = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, pipeline_free);

  VkCommandPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = d->queue_family,
  };
  HEED_VK (vkCreateCommandPool, (d->device, &pool_info, NULL, &d->command_pool));
  heed_log (HEED_LOG_INFO, "using Vulkan device %s", d->props.deviceName);
  return TRUE;
error:
  return FALSE;
}

/* Whether heed should enable cooperative matrices: the device multiplies 16 x 16 x 16 fragments
 * of halves into float32 in a subgroup (VK_NV_cooperative_matrix, with VK_KHR_shader_float16_int8's
 * shaderFloat16), for gemm.comp's COOPMAT kernel. Only with HEED_COOPMAT=1 for now: the kernel was
 * written in a session whose GPU loan was paused, so no GPU has run it yet (tools/gpu_checks.sh
 * sets it, and its test-ops step checks the kernel against the C reference). Without it the
 * fp16-matmul mode rounds A in the table's usual kernels. */
static gboolean
cooperative_halves (VkInstance instance, VkPhysicalDevice physical)
{
  if (g_strcmp0 (g_getenv ("HEED_COOPMAT"), "1") != 0 ||
      !has_device_extension (physical, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) ||
      !has_device_extension (physical, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME))
    return FALSE;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
  };
  VkPhysicalDeviceShaderFloat16Int8FeaturesKHR float16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR,
    .pNext = &coopmat,
  };
  VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                   .pNext = &float16 };
  vkGetPhysicalDeviceFeatures2 (physical, &f2);
  PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get_properties =
      (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) vkGetInstanceProcAddr (
          instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
  if (!coopmat.cooperativeMatrix || !float16.shaderFloat16 || !get_properties)
    return FALSE;
  uint32_t n = 0;
  if (get_properties (physical, &n, NULL) != VK_SUCCESS)
    return FALSE;
  VkCooperativeMatrixPropertiesNV *props = g_new0 (VkCooperativeMatrixPropertiesNV, MAX (n, 1));
  for (uint32_t i = 0; i < n; i++)
    props[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
  gboolean found = FALSE;
  if (get_properties (physical, &n, props) == VK_SUCCESS)
    for (uint32_t i = 0; i < n && !found; i++) {
      const VkCooperativeMatrixPropertiesNV *c = &props[i];
      found = c->MSize == 16 && c->NSize == 16 && c->KSize == 16 &&
              c->AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
              c->BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
              c->CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
              c->DType == VK_COMPONENT_TYPE_FLOAT32_NV && c->scope == VK_SCOPE_SUBGROUP_NV;
    }
  g_free (props);
  return found;
}

HeedDevice *
heed_device_new (int index, GError **error)
{
  HeedDevice *d = g_new0 (HeedDevice, 1);
  d->ref_count = 1;
  VkPhysicalDevice *pds = NULL;
  GArray *infos = NULL;
  float priority = 1.0f;
  int chosen, family;

  d->owned = TRUE;
  d->instance = create_instance (&d->messenger, error);
  if (!d->instance)
    goto error;
  infos = list_physical (d->instance, &pds, error);
  if (!infos)
    goto error;
  chosen = choose_device (infos, index, error);
  if (chosen < 0)
    goto error;
  d->physical_device = pds[chosen];
  family = compute_queue_family (d->physical_device);
  d->queue_family = (uint32_t) family;

  VkDeviceQueueCreateInfo qinfo = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = d->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  /* the optional features heed asks for, where there are: 64-bit integers, which let
   * lavapipe's GEMMs store two floats at a time, and cooperative matrices with halves, for the
   * fp16-matmul mode's tensor-core GEMMs (choose_kernels) */
  VkPhysicalDeviceFeatures supported;
  vkGetPhysicalDeviceFeatures (d->physical_device, &supported);
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
    .cooperativeMatrix = VK_TRUE,
  };
  VkPhysicalDeviceShaderFloat16Int8FeaturesKHR float16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR,
    .pNext = &coopmat,
    .shaderFloat16 = VK_TRUE,
  };
  VkPhysicalDeviceFeatures2 wanted = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
  };
  wanted.features.shaderInt64 = supported.shaderInt64;
  d->int64 = supported.shaderInt64 == VK_TRUE;
  d->coopmat = cooperative_halves (d->instance, d->physical_device);
  static const char *const coopmat_extensions[] = { VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME,
                                                    VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME };
  if (d->coopmat)
    wanted.pNext = &float16;
  VkDeviceCreateInfo dinfo = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &wanted,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qinfo,
    .enabledExtensionCount = d->coopmat ? G_N_ELEMENTS (coopmat_extensions) : 0,
    .ppEnabledExtensionNames = d->coopmat ? coopmat_extensions : NULL,
  };
  HEED_VK (vkCreateDevice, (d->physical_device, &dinfo, NULL, &d->device));
  vkGetDeviceQueue (d->device, d->queue_family, 0, &d->queue);
  if (!device_setup (d, error))
    goto error;
  g_array_unref (infos);
  g_free (pds);
  return d;

error:
  if (infos)
    g_array_unref (infos);
  g_free (pds);
  heed_device_destroy (&d);
  return NULL;
}

HeedDevice *
heed_device_new_import (const HeedDeviceImport *import, GError **error)
{
  HeedDevice *d;
  if (!import || !import->instance || !import->physical_device || !import->device ||
      !import->queue) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "device import needs an instance, physical device, device and queue");
    return NULL;
  }
  keep_drivers_loaded (); /* GStreamer's instance goes when its pipeline does */
  d = g_new0 (HeedDevice, 1);
  d->ref_count = 1;
  d->instance = import->instance;
  d->physical_device = import->physical_device;
  d->device = import->device;
  d->queue = import->queue;
  d->queue_family = import->queue_family;
  d->queue_lock = import->queue_lock;
  d->queue_unlock = import->queue_unlock;
  d->lock_data = import->lock_data;
  if (!device_setup (d, error)) {
    heed_device_destroy (&d);
    return NULL;
  }
  return d;
}

HeedDevice *
heed_device_ref (HeedDevice *device)
{
  g_atomic_int_inc (&device->ref_count);
  return device;
}

void
heed_device_destroy (HeedDevice **device)
{
  HeedDevice *d = device ? *device : NULL;
  if (!d)
    return;
  *device = NULL;
  if (!g_atomic_int_dec_and_test (&d->ref_count))
    return;
  if (d->device) {
    vkDeviceWaitIdle (d->device);
    if (d->pipelines) {
      GHashTableIter it;
      gpointer value;
      g_hash_table_iter_init (&it, d->pipelines);
      while (g_hash_table_iter_next (&it, NULL, &value)) {
        HeedPipeline *p = value;
        vkDestroyPipeline (d->device, p->pipeline, NULL);
        vkDestroyPipelineLayout (d->device, p->layout, NULL);
        vkDestroyDescriptorSetLayout (d->device, p->set_layout, NULL);
      }
      g_hash_table_destroy (d->pipelines);
    }
    if (d->command_pool)
      vkDestroyCommandPool (d->device, d->command_pool, NULL);
    if (d->owned)
      vkDestroyDevice (d->device, NULL);
  }
  if (d->owned && d->instance)
    destroy_instance (d->instance, d->messenger);
  if (d->pipelines || d->command_pool) {
    g_mutex_clear (&d->queue_mutex);
    g_mutex_clear (&d->command_mutex);
    g_mutex_clear (&d->pipeline_mutex);
  }
  g_free (d);
}

VkDevice
heed_device_get_vk_device (const HeedDevice *device)
{
  return device->device;
}

const char *
heed_device_get_name (const HeedDevice *device)
{
  return device->props.deviceName;
}

char *
heed_device_describe_kernels (const HeedDevice *d)
{
  const HeedKernels *k = &d->kernels;
  return g_strdup_printf (
      "GEMM %s (workgroups of %u%s), %s, Q.K^T %s, softmax %s%s%s, fp16-matmul GEMM %s",
      heed_shaders[k->gemm_k4.shader].name, k->gemm_k4.local_size,
      heed_gemm_without_pairs (k->gemm_k4.shader) != k->gemm_k4.shader
          ? ", C stored in 64-bit pairs"
          : "",
      k->gemm_k4_ln.shader != HEED_SHADER_COUNT ? "LayerNorms folded into the GEMMs after them"
                                                : "LayerNorms on their own",
      k->gemm_k4_bt.shader != HEED_SHADER_COUNT ? "reading K in place" : "on a copy of K^T",
      k->attention.shader != HEED_SHADER_COUNT
          ? "online, attention in one dispatch where the probabilities are not an output"
      : k->gemm_k4_softmax.shader != HEED_SHADER_COUNT
          ? "folded into P.V where the probabilities are not an output"
          : "on its own",
      k->attention.shader != HEED_SHADER_COUNT ? ": " : "",
      k->attention.shader != HEED_SHADER_COUNT ? heed_shaders[k->attention.shader].name : "",
      heed_shaders[k->gemm_half_k4.shader].name);
}

VkPhysicalDeviceType
heed_device_get_type (const HeedDevice *device)
{
  return device->props.deviceType;
}

VkCommandPool
heed_command_pool_new (HeedDevice *d, GError **error)
{
  VkCommandPool pool = VK_NULL_HANDLE;
  VkCommandPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = d->queue_family,
  };
  HEED_VK (vkCreateCommandPool, (d->device, &info, NULL, &pool));
  return pool;
error:
  return VK_NULL_HANDLE;
}

VkCommandBuffer
heed_command_buffer_new (HeedDevice *d, VkCommandPool pool, GError **error)
{
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkCommandBufferAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  HEED_VK (vkAllocateCommandBuffers, (d->device, &ai, &cmd));
  return cmd;
error:
  return VK_NULL_HANDLE;
}

VkResult
heed_device_submit (HeedDevice *d, const VkCommandBuffer *cmds, guint n, VkFence fence)
{
  VkSubmitInfo si = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = n,
    .pCommandBuffers = cmds,
  };
  guint submission = (guint) g_atomic_int_add (&d->submissions, 1) + 1;
  if (d->lose_at_submit && submission >= d->lose_at_submit)   /* injected: nothing runs, so */
    return heed_device_note_result (d, VK_ERROR_DEVICE_LOST); /* no fence is left to wait for */
  heed_device_lock_queue (d);
  VkResult r = vkQueueSubmit (d->queue, 1, &si, fence);
  heed_device_unlock_queue (d);
  return heed_device_note_result (d, r);
}

gboolean
heed_device_submit_and_wait (HeedDevice *d, const VkCommandBuffer *cmds, guint n, VkFence fence,
                             GError **error)
{
  HEED_VK (vkResetFences, (d->device, 1, &fence));
  HEED_VK_RESULT ("vkQueueSubmit", heed_device_submit (d, cmds, n, fence));
  HEED_VK_RESULT (
      "vkWaitForFences",
      heed_device_note_result (d, vkWaitForFences (d->device, 1, &fence, VK_TRUE, UINT64_MAX)));
  return TRUE;
error:
  return FALSE;
}

VkResult
heed_device_note_result (HeedDevice *d, VkResult r)
{
  if (r == VK_ERROR_DEVICE_LOST && !g_atomic_int_get (&d->lost)) {
    g_atomic_int_set (&d->lost, 1);
    heed_log (HEED_LOG_ERROR, "the Vulkan device %s is lost", d->props.deviceName);
  }
  return r;
}

gboolean
heed_device_is_lost (const HeedDevice *d)
{
  return g_atomic_int_get (&((HeedDevice *) d)->lost) != 0;
}

VkResult
heed_device_allocate_memory (HeedDevice *d, const VkMemoryAllocateInfo *info,
                             VkDeviceMemory *memory)
{
  guint allocation = (guint) g_atomic_int_add (&d->allocations, 1) + 1;
  if (allocation == d->fail_allocation)
    return VK_ERROR_OUT_OF_DEVICE_MEMORY; /* injected */
  return vkAllocateMemory (d->device, info, NULL, memory);
}

void
heed_device_lock_queue (HeedDevice *d)
{
  if (d->queue_lock)
    d->queue_lock (d->lock_data);
  else
    g_mutex_lock (&d->queue_mutex);
}

void
heed_device_unlock_queue (HeedDevice *d)
{
  if (d->queue_unlock)
    d->queue_unlock (d->lock_data);
  else
    g_mutex_unlock (&d->queue_mutex);
}
