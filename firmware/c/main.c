/* aedge in a C firmware: parses the generated model, then scores, reconstructs, denoises and
   encodes each generated sample input through the C ABI (aedge.h, libaedge.a), printing
   the score's bits and FNV-1a checksums of the outputs so the host can compare them with its
   own, bit for bit. No heap: the model, the arena and the outputs are static. */
#include <stdbool.h>
#include <stdint.h>

#include "aedge.h"
#include "board.h"
#include "inputs.h"
#include "model.h"

static AedgeModel model;
static uint8_t arena[AEDGE_ARENA_LEN] __attribute__((aligned(16)));
static float output[AEDGE_OUTPUT_LEN];
static float code[AEDGE_CODE_LEN];

static char line[256];
static size_t used;

static void put(const char *s) {
    while (*s && used < sizeof line - 2) {
        line[used++] = *s++;
    }
}

static void put_hex(uint32_t v) {
    char s[11] = "0x";
    for (int i = 0; i < 8; i++) {
        s[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    }
    s[10] = 0;
    put(s);
}

static void put_dec(uint32_t v) {
    char s[11];
    int i = 10;
    s[i] = 0;
    do {
        s[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(s + i);
}

static void end_line(void) {
    line[used++] = '\n';
    line[used] = 0;
    board_write(line);
    used = 0;
}

static uint32_t bits(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, sizeof u);
    return u;
}

/* FNV-1a over the bytes of the values (little-endian), as aedge_runtime::fnv1a. */
static uint32_t fnv1a(const float *v, size_t n) {
    const uint8_t *b = (const uint8_t *)v;
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n * sizeof(float); i++) {
        h = (h ^ b[i]) * 0x01000193u;
    }
    return h;
}

static void check(AedgeStatus s, const char *what) {
    if (s != AEDGE_OK) {
        put(what);
        put(" failed: ");
        put(aedge_strerror(s));
        end_line();
        board_exit(1);
    }
}

int main(void) {
    check(aedge_parse(aedge_model_bytes, AEDGE_MODEL_LEN, &model), "aedge_parse");
    put("model arena ");
    put_dec(aedge_arena_len(&model));
    put(" input ");
    put_dec(aedge_input_len(&model));
    put(" output ");
    put_dec(aedge_output_len(&model));
    put(" code ");
    put_dec(aedge_code_len(&model));
    put(" threshold ");
    put_hex(bits(aedge_threshold(&model)));
    end_line();
    if (aedge_arena_len(&model) != AEDGE_ARENA_LEN || aedge_input_len(&model) != AEDGE_INPUT_LEN) {
        put("the model's sizes differ from model.h");
        end_line();
        return 1;
    }
    for (uint32_t i = 0; i < AEDGE_INPUT_COUNT; i++) {
        const float *x = aedge_inputs[i];
        AedgeScore s;
        check(aedge_score(&model, x, AEDGE_INPUT_LEN, arena, sizeof arena, &s), "aedge_score");
        check(aedge_reconstruct(&model, x, AEDGE_INPUT_LEN, output, AEDGE_OUTPUT_LEN, arena,
                                sizeof arena),
              "aedge_reconstruct");
        uint32_t recon = fnv1a(output, AEDGE_OUTPUT_LEN);
        check(aedge_denoise(&model, x, AEDGE_INPUT_LEN, output, AEDGE_OUTPUT_LEN, arena,
                            sizeof arena),
              "aedge_denoise");
        uint32_t denoised = fnv1a(output, AEDGE_OUTPUT_LEN);
        check(aedge_encode(&model, x, AEDGE_INPUT_LEN, code, AEDGE_CODE_LEN, arena, sizeof arena),
              "aedge_encode");
        put("input ");
        put_dec(i);
        put(" error ");
        put_hex(bits(s.error));
        put(" anomalous ");
        put_dec(s.anomalous);
        put(" recon ");
        put_hex(recon);
        put(" denoised ");
        put_hex(denoised);
        put(" code ");
        put_hex(fnv1a(code, AEDGE_CODE_LEN));
        end_line();
    }
    /* Misuse is a status code, not a crash. */
    AedgeScore s;
    AedgeStatus short_arena =
        aedge_score(&model, aedge_inputs[0], AEDGE_INPUT_LEN, arena, sizeof arena - 16, &s);
    AedgeStatus null_input = aedge_score(&model, 0, AEDGE_INPUT_LEN, arena, sizeof arena, &s);
    AedgeModel other;
    AedgeStatus truncated = aedge_parse(aedge_model_bytes, 64, &other);
    put("errors ");
    put_dec((uint32_t)short_arena);
    put(" ");
    put_dec((uint32_t)null_input);
    put(" ");
    put_dec((uint32_t)truncated);
    put(": ");
    put(aedge_strerror(short_arena));
    end_line();
    put("stack ");
    put_dec((uint32_t)board_stack_used());
    put(" B");
    end_line();
    put("done");
    end_line();
    return 0;
}
