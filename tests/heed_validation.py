# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Vulkan validation layer's findings in a Python test's own process: heed's engine logs
them (with the suite's HEED_VALIDATION) to the "heed" debug category at WARNING or ERROR, so a
GStreamer log function collects them. watch() before the pipelines run; check_silent() after."""
import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402
from tap import check

_messages = []


def _on_log(category, level, file, function, line, obj, message, *user_data):
    text = message.get()
    if level <= Gst.DebugLevel.WARNING and text and "Vulkan validation" in text:
        _messages.append(text)


def watch():
    """Collects the layer's messages from now on (Gst.init() first)."""
    Gst.debug_add_log_function(_on_log, None)
    if Gst.debug_get_default_threshold() < Gst.DebugLevel.WARNING:
        Gst.debug_set_threshold_for_name("heed*", Gst.DebugLevel.WARNING)


def check_silent():
    """One check: the layer said nothing since watch()."""
    check("the validation layer says nothing", not _messages, "; ".join(_messages[:2]))
