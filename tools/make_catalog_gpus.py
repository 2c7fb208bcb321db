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
# Turing (T4) and Volta (V100) tensor cores take fp16 only: the figures above are their fp16 rate,
# and they have no bf16 tensor-core rate at all (bf16 runs on the CUDA cores, or is emulated).
NO_BF16 = ("NVIDIA T4", "NVIDIA V100")

# The total the driver reports, in MiB, with where it was printed. Two tools print it:
# nvidia-smi's memory.total and cudaMemGetInfo's total (what llama.cpp's memory breakdown, vLLM and
# PyTorch read); on one machine they agree to a few MiB, across machines (driver, display, WSL) they
# can differ by hundreds. ECC on GDDR (T4, A10, L4, L40S) reserves 1/16 of the memory; HBM keeps ECC
# in side bits, so an A100 reports its full 80 GiB, while an H100's driver keeps back about 0.4 GiB.
DRIVER_TOTAL_MIB = {
    "NVIDIA T4": (15360, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA A10": (23028, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA L4": (23034, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA L40S": (46068, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA A100 40GB": (40960, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA A100 80GB SXM4": (81920, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA H100 SXM5": (81559, "nvidia-smi", "modal-labs/modal-client#2797"),
    "NVIDIA GeForce RTX 3090": (24575, "cudaMemGetInfo (llama.cpp memory breakdown)", "ollama/ollama#16031"),
    "NVIDIA GeForce RTX 4090": (24080, "cudaMemGetInfo (llama.cpp memory breakdown)", "ggml-org/llama.cpp#15860"),
    "NVIDIA GeForce RTX 5090": (32606, "cudaMemGetInfo (llama.cpp memory breakdown)", "ollama/ollama#16031"),
    "NVIDIA B200 SXM": (182630, "cudaGetDeviceProperties totalGlobalMem, printed as 178.35 (GiB)", "pytorch/ao#4002"),
}
# ECC state as shipped: on by default for data-centre GDDR and for HBM; off (or absent) on GeForce.
ECC = {"nvidia": lambda name: not ("GeForce" in name)}

# Cards and machines of 2025-2026 that the reference table lacks: (name, vendor, GiB, GB/s, bf16 TFLOPS
# dense, fp16 TFLOPS dense, unified, memory type, sources, status, notes).
NEW = [
    ("NVIDIA B300 SXM", "nvidia", 288, 8000, 2250, 2250, False, "HBM3e", ["NVIDIA HGX B300 datasheet"],
     "vendor figure", "Blackwell Ultra: 288 GB HBM3e per GPU; dense bf16 as B200 (FP4 raised, FP64 cut)"),
    ("NVIDIA GB300", "nvidia", 288, 8000, 2500, 2500, False, "HBM3e", ["NVIDIA GB300 NVL72 datasheet (per GPU)"],
     "vendor figure", "the B300 GPU in a Grace superchip (NVL72); higher power limit than HGX B300"),
    ("AMD Instinct MI325X", "amd", 256, 6000, 1307.4, 1307.4, False, "HBM3e", ["AMD Instinct MI325X datasheet"],
     "vendor figure", "same CDNA3 compute as MI300X, more and faster memory"),
    ("AMD Instinct MI355X", "amd", 288, 8000, 2516.6, 2516.6, False, "HBM3e", ["AMD Instinct MI355X datasheet"],
     "vendor figure", "CDNA4; dense bf16 without sparsity"),
    ("NVIDIA RTX PRO 6000 Blackwell", "nvidia", 96, 1792, 503.8, 503.8, False, "GDDR7 (ECC) 512-bit",
     ["NVIDIA RTX PRO 6000 Blackwell datasheet"], "vendor figure",
     "Workstation Edition; dense fp16/bf16 tensor rate with fp32 accumulate (4000 sparse FP4 AI TOPS / 8)"),
    ("NVIDIA DGX Spark GB10", "nvidia", 128, 273, None, None, True, "LPDDR5X unified 256-bit",
     ["NVIDIA DGX Spark datasheet", "MiaAI-Lab/GLM-5.3-Flash-EXL3-2x-DGX-Sparks#47 (121.69 GiB total)",
      "llamastash/llamastash#80"], "vendor figure",
     "no dense bf16 rate published (NVIDIA quotes 1 PFLOP of sparse FP4). GPU and CPU share 128 GB; CUDA reports the OS's MemTotal (121.69 GiB) as the device total, and its "
     "free figure undercounts reclaimable page cache: MemAvailable is the usable amount"),
    ("AMD Ryzen AI Max+ 395", "amd", 128, 256, 59.4, 59.4, True, "LPDDR5X-8000 unified 256-bit",
     ["AMD Ryzen AI Max+ 395 product page", "noamsto/nix-amd-ai#42 (ttm.pages_limit: HIP reports 98304 MiB)",
      "ROCm/legacy-rocm-build#5444 (kernel >= 6.16.9 needed beyond 15.5 GB)"], "vendor figure",
     "Strix Halo, Radeon 8060S (gfx1151). The GPU gets the BIOS carve-out (Variable Graphics Memory, at most "
     "96 GiB of 128) on Windows; on Linux the GTT limit (ttm.pages_limit, up to ~124 GiB) decides"),
    ("Apple M5 16GB", "apple", 16, 153, None, None, True, "LPDDR5X unified", ["Apple M5 press release (153 GB/s)"],
     "vendor figure", ""),
    ("Apple M5 24GB", "apple", 24, 153, None, None, True, "LPDDR5X unified", ["Apple M5 press release (153 GB/s)"],
     "vendor figure", ""),
    ("Apple M5 32GB", "apple", 32, 153, None, None, True, "LPDDR5X unified", ["Apple M5 press release (153 GB/s)"],
     "vendor figure", ""),
    ("Apple M5 Pro 48GB", "apple", 48, 307, None, None, True, "LPDDR5X unified", ["Apple MacBook Pro (M5 Pro) tech specs"],
     "uncertain", "bandwidth as announced; check Apple's tech specs page for the configuration"),
    ("Apple M5 Pro 64GB", "apple", 64, 307, None, None, True, "LPDDR5X unified", ["Apple MacBook Pro (M5 Pro) tech specs"],
     "uncertain", "bandwidth as announced; check Apple's tech specs page for the configuration"),
    ("Apple M5 Max 64GB", "apple", 64, 614, None, None, True, "LPDDR5X unified", ["Apple MacBook Pro (M5 Max) tech specs"],
     "uncertain", "bandwidth as announced; check Apple's tech specs page for the configuration"),
    ("Apple M5 Max 128GB", "apple", 128, 614, None, None, True, "LPDDR5X unified", ["Apple MacBook Pro (M5 Max) tech specs"],
     "uncertain", "bandwidth as announced; check Apple's tech specs page for the configuration"),
]
# How much of its memory the GPU of a unified-memory machine may use, by default.
USABLE_RULE = {
    "apple": "metal-working-set",     # recommendedMaxWorkingSetSize: 2/3 up to 32 GiB, 3/4 above
    "NVIDIA DGX Spark GB10": "driver-total",
    "AMD Ryzen AI Max+ 395": "carve-out-96",
}


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


def add_driver_fields(g):
    """Driver-reported total, ECC and the usable-memory rule of one catalog entry (in place)."""
    hit = next((v for k, v in DRIVER_TOTAL_MIB.items() if g["name"] == k or g["name"].startswith(k + " ")), None)
    g["driver_total_bytes"] = hit[0] * 2**20 if hit else None
    g["driver_total_source"] = f"{hit[1]}, {hit[2]}" if hit else None
    g["ecc"] = g["vendor"] in ("nvidia", "amd") and not g["unified_memory"] and "GeForce" not in g["name"]
    g["usable_rule"] = USABLE_RULE.get(g["name"]) or USABLE_RULE.get(g["vendor"]) if g["unified_memory"] else \
        ("driver-total" if hit else "nominal")


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
                    "bf16_flops_per_s": None if apple or name.startswith(NO_BF16) else
                    (int(tflops(name) * 10**12) if tflops(name) else None),
                    "fp16_flops_per_s": None if apple else (int(tflops(name) * 10**12) if tflops(name) else None),
                    "unified_memory": apple,
                    "memory_type": g["memory_type"],
                    "sources": g["sources"] + ([TFLOPS_SOURCE] if tflops(name) and not apple else [])
                    + ([APPLE_SOURCE] if apple else []),
                    "status": g["status"],
                    "notes": g["notes"],
                })
                add_driver_fields(out[-1])
    for (name, vendor, gib, bw, bf16, fp16, unified, mtype, sources, status, notes) in NEW:
        out.append({"name": name, "id": slug(name), "vendor": vendor, "memory_bytes": gib * 2**30,
                    "bandwidth_bytes_per_s": int(bw * 10**9),
                    "bf16_flops_per_s": int(bf16 * 10**12) if bf16 else None,
                    "fp16_flops_per_s": int(fp16 * 10**12) if fp16 else None,
                    "unified_memory": unified, "memory_type": mtype, "sources": sources, "status": status,
                    "notes": notes})
        add_driver_fields(out[-1])
    dgx = next(g for g in out if g["name"] == "NVIDIA DGX Spark GB10")
    dgx["driver_total_bytes"], dgx["driver_total_source"] = int(121.69 * 2**30) // 2**20 * 2**20, \
        "CUDA total as vLLM prints it, 121.69 GiB (MiaAI-Lab/GLM-5.3-Flash-EXL3-2x-DGX-Sparks#47)"
    path = Path(__file__).resolve().parents[1] / "vramkit" / "catalog" / "gpus.json"
    path.write_text(json.dumps({"gpus": out}, indent=1, ensure_ascii=False) + "\n")
    print(len(out), "GPUs")


if __name__ == "__main__":
    main(sys.argv[1])
