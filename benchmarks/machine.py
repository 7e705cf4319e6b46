"""The machine a figure came from: CPU model, cores, the SIMD extensions that decide int8/float speed, and how busy
the machine was. Every benchmark prints this line and stores the dict beside its figures.

The same int8 model runs several times faster with AVX-512 VNNI or AMX than with AVX2 alone, so a figure without
its CPU says little about what a user gets.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

# The extensions that decide how fast TFLite/XNNPACK and oneDNN kernels run, slowest class first.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _cpu_pressure() -> str | None:
    """The kernel's CPU pressure line (share of time runnable tasks waited for a core), where it is exposed."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


def cpu_info() -> dict:
    fields = _lscpu()
    flags = fields.get("Flags", "").split()
    model = fields.get("Model name")
    if not flags or not model:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "flags" and not flags:
                    flags = value.split()
                elif key.strip() == "model name" and not model:
                    model = value.strip()
        except OSError:
            pass
    info = {
        "cpu": model or platform.processor() or platform.machine(),
        "architecture": platform.machine(),
        "cores": os.cpu_count(),
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    pressure = _cpu_pressure()
    if pressure:
        info["cpu_pressure"] = pressure
    return info


def isa_class(info: dict) -> str:
    """A short name for the class of CPU: what decides whether a figure transfers to another machine."""
    simd = set(info.get("simd", []))
    if "amx_int8" in simd:
        return "AMX"
    if "avx512_vnni" in simd:
        return "AVX-512 VNNI"
    if "avx512f" in simd:
        return "AVX-512"
    if "avx2" in simd:
        return "AVX2 only"
    return "no AVX2"


def describe(info: dict) -> str:
    load = info.get("load_average")
    busy = f", load average {' '.join(map(str, load))}" if load else ""
    return (
        f"CPU: {info['cpu']} ({info['cores']} cores, {isa_class(info)}; "
        f"{' '.join(info['simd']) or 'no SIMD flags listed'}){busy}"
    )
