// Prints, as one JSON object, the memory llama.cpp plans for one model under one setting:
// every buffer type's model / context (KV) / compute bytes from llama_get_memory_breakdown,
// and the log lines that name a buffer size (the output buffer is only in the log).
// Built and run by generate_llama_cpp.py against a llama.cpp build (see that file).
#include "llama.h"
#include "../src/llama-ext.h"
#include "ggml-backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

static std::vector<std::string> g_lines;
static std::string g_cur;

static void log_cb(ggml_log_level, const char * text, void *) {
    g_cur += text;
    size_t pos;
    while ((pos = g_cur.find('\n')) != std::string::npos) {
        std::string line = g_cur.substr(0, pos);
        g_cur.erase(0, pos + 1);
        if (line.find("buffer size") != std::string::npos || line.find("llama_kv_cache: size") != std::string::npos ||
            line.find("n_ctx") != std::string::npos || line.find("flash_attn") != std::string::npos ||
            line.find("n_ubatch") != std::string::npos || line.find("kv_size") != std::string::npos ||
            line.find("cells") != std::string::npos || line.find("does not support") != std::string::npos ||
            line.find("requires") != std::string::npos) {
            g_lines.push_back(line);
        }
    }
}

static ggml_type type_of(const char * s) {
    static const std::map<std::string, ggml_type> m = {
        {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16}, {"q8_0", GGML_TYPE_Q8_0},
        {"q4_0", GGML_TYPE_Q4_0}, {"q4_1", GGML_TYPE_Q4_1}, {"q5_0", GGML_TYPE_Q5_0}, {"q5_1", GGML_TYPE_Q5_1},
        {"iq4_nl", GGML_TYPE_IQ4_NL}};
    auto it = m.find(s);
    if (it == m.end()) { fprintf(stderr, "unknown type %s\n", s); exit(2); }
    return it->second;
}

static std::string esc(const std::string & s) {
    std::string o;
    for (char c : s) { if (c == '"' || c == '\\') o += '\\'; if ((unsigned char) c >= 0x20) o += c; }
    return o;
}

// `probe --quantize IN OUT FTYPE_ID` calls llama_model_quantize, the library function llama-quantize
// runs, with its default parameters (no imatrix), when the llama-quantize binary is not built.
static int quantize(int argc, char ** argv) {
    if (argc != 5) { fprintf(stderr, "usage: probe --quantize IN OUT FTYPE_ID\n"); return 2; }
    llama_backend_init();
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.ftype = (llama_ftype) atoi(argv[4]);
    qp.nthread = 2;
    return llama_model_quantize(argv[2], argv[3], &qp) == 0 ? 0 : 1;
}

// usage: probe MODEL N_CTX N_BATCH N_UBATCH N_SEQ FA(-1 auto,0 off,1 on) TYPE_K TYPE_V NO_ALLOC KV_UNIFIED SWA_FULL
int main(int argc, char ** argv) {
    if (argc > 1 && strcmp(argv[1], "--quantize") == 0) return quantize(argc, argv);
    if (argc != 12) { fprintf(stderr, "usage: see source\n"); return 2; }
    llama_log_set(log_cb, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.no_alloc = atoi(argv[9]) != 0;
    mp.load_mode = LLAMA_LOAD_MODE_NONE;  // no mmap: buffers are allocated, so sizes are what a device holds
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "load failed\n"); for (auto & l : g_lines) fprintf(stderr, "%s\n", l.c_str()); return 1; }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = atoi(argv[2]); cp.n_batch = atoi(argv[3]); cp.n_ubatch = atoi(argv[4]); cp.n_seq_max = atoi(argv[5]);
    int fa = atoi(argv[6]);
    cp.flash_attn_type = fa < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO : fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = type_of(argv[7]); cp.type_v = type_of(argv[8]);
    cp.kv_unified = atoi(argv[10]) != 0; cp.swa_full = atoi(argv[11]) != 0;
    cp.n_threads = cp.n_threads_batch = 1;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "context failed\n"); for (auto & l : g_lines) fprintf(stderr, "%s\n", l.c_str()); return 1; }
    printf("{\"n_ctx\": %u, \"n_batch\": %u, \"n_ubatch\": %u, \"n_seq_max\": %u, \"buffers\": [",
           llama_n_ctx(ctx), llama_n_batch(ctx), llama_n_ubatch(ctx), llama_n_seq_max(ctx));
    bool first = true;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(ctx)) {
        printf("%s{\"buft\": \"%s\", \"host\": %s, \"model\": %zu, \"context\": %zu, \"compute\": %zu}", first ? "" : ", ",
               ggml_backend_buft_name(buft), ggml_backend_buft_is_host(buft) ? "true" : "false", mb.model, mb.context, mb.compute);
        first = false;
    }
    printf("], \"log\": [");
    for (size_t i = 0; i < g_lines.size(); i++) printf("%s\"%s\"", i ? ", " : "", esc(g_lines[i]).c_str());
    printf("]}\n");
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
