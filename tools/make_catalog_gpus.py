"""One-off builder of vramkit/catalog/gpus.json from the reference GPU table (kept for provenance).

GPU memory sizes are binary: a "24 GB" card carries 24 GiB of DRAM, so memory_bytes = GB * 2**30.
Bandwidth is decimal (GB/s = 10**9 bytes/s). Entries listing two sizes or bandwidths become two
entries. Dense bf16 tensor throughput (no sparsity) comes from the vendors' datasheets.
Run: python tools/make_catalog_gpus.py REFERENCE/gpus.json
"""
import json
import re
import sys
from pathlib import Path

# Dense BF16 tensor-core TFLOP/s (FP32 accumulate, no sparsity), vendor datasheets / whitepapers.
BF16_TFLOPS = {
    "NVIDIA GeForce RTX 3060 12GB": 25.6, "NVIDIA GeForce RTX 3090": 71.0, "NVIDIA GeForce RTX 4060 Ti 16GB": 44.0,
    "NVIDIA GeForce RTX 4070": 58.3, "NVIDIA GeForce RTX 4080": 97.5, "NVIDIA GeForce RTX 4090": 165.2,
    "NVIDIA GeForce RTX 5090": 209.5, "NVIDIA A10": 125.0, "NVIDIA L4": 121.0, "NVIDIA L40S": 362.0,
    "NVIDIA T4": 65.0, "NVIDIA A100": 312.0, "NVIDIA H100 SXM5": 989.0, "NVIDIA H100 PCIe": 756.0,
    "NVIDIA H100 NVL": 835.0, "NVIDIA H200 SXM": 989.0, "NVIDIA B200 SXM": 2250.0, "AMD Instinct MI300X": 1307.0,
    "NVIDIA V100": 125.0,
}
TFLOPS_SOURCE = "vendor datasheets (dense tensor throughput, fp16/bf16 inputs; V100 and T4 fp16)"


def slug(name):
    s = name.lower().replace("nvidia ", "").replace("geforce ", "").replace("amd instinct ", "")
    s = re.sub(r"\(.*?\)", "", s)
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


def tflops(name):
    # the longest matching prefix, so "NVIDIA L40S" is not read as "NVIDIA L4"
    keys = [k for k in BF16_TFLOPS if name == k or name.startswith(k + " ")]
    return BF16_TFLOPS[max(keys, key=len)] if keys else None


# Unified-memory sizes Apple sells per chip (Apple tech specs pages), with the bandwidth bin where
# a chip comes in two (M3 Max and M4 Max: the smaller configurations have fewer memory channels).
APPLE_SIZES = {
    "Apple M1": [8, 16], "Apple M1 Pro": [16, 32], "Apple M1 Max": [32, 64], "Apple M1 Ultra": [64, 128],
    "Apple M2": [8, 16, 24], "Apple M2 Pro": [16, 32], "Apple M2 Max": [32, 64, 96],
    "Apple M2 Ultra": [64, 128, 192], "Apple M3": [8, 16, 24], "Apple M3 Pro": [18, 36],
    "Apple M3 Max": {300: [36, 96], 400: [48, 64, 128]}, "Apple M3 Ultra": [96, 256, 512],
    "Apple M4": [16, 24, 32], "Apple M4 Pro": [24, 48, 64], "Apple M4 Max": {410: [36], 546: [48, 64, 128]},
}
APPLE_SOURCE = "Apple tech specs pages (configurable unified memory per chip)"


def apple_sizes(name, bw):
    sizes = APPLE_SIZES[name]
    return sizes[int(bw)] if isinstance(sizes, dict) else sizes


def main(ref):
    out = []
    for g in json.load(open(ref))["gpus"]:
        mems = g["memory_gb"] if isinstance(g["memory_gb"], list) else [g["memory_gb"]]
        bws = g["bandwidth_gb_s"] if isinstance(g["bandwidth_gb_s"], list) else [g["bandwidth_gb_s"]]
        base = re.sub(r"\s*\d+/\d+GB", "", g["name"])
        apple = base.startswith("Apple")
        for bw in bws:
            for mem in (apple_sizes(base, bw) if apple else mems):
                name = f"{base} {mem}GB" if (apple or len(mems) > 1) else base
                out.append({
                    "name": name,
                    "id": slug(name),
                    "vendor": name.split()[0].lower(),
                    "memory_bytes": int(mem) * 2**30,
                    "bandwidth_bytes_per_s": int(round(bw * 10**9)),
                    "bf16_flops_per_s": None if apple else (int(tflops(name) * 10**12) if tflops(name) else None),
                    "unified_memory": apple,
                    "memory_type": g["memory_type"],
                    "sources": g["sources"] + ([TFLOPS_SOURCE] if tflops(name) and not apple else [])
                    + ([APPLE_SOURCE] if apple else []),
                    "status": g["status"],
                    "notes": g["notes"],
                })
    path = Path(__file__).resolve().parents[1] / "vramkit" / "catalog" / "gpus.json"
    path.write_text(json.dumps({"gpus": out}, indent=1, ensure_ascii=False) + "\n")
    print(len(out), "GPUs")


if __name__ == "__main__":
    main(sys.argv[1])
