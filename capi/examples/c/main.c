/*
 * Tags an embedded WAV with an embedded model through matpac.h on a Cortex-M4 (QEMU
 * mps2-an386), printing over semihosting:
 *
 *   sizes storage=<B> window=<B> arena=<B> model=<B> samples=<N> sample_rate=<Hz>
 *   onset=0.500 offset=1.480 class=piano score=0.912     (one line per event, the text
 *   ...                                                   of `matpac tag --format text`)
 *   end events=<N> stack_init_bytes=<B> stack_push_bytes=<B>
 *
 * and exits with status 0, or prints `error <status>: <message>` and exits with 1.
 * run-qemu-c.sh builds it and compares the event lines with `matpac tag`.
 */
#include <stdint.h>
#include <string.h>

#include "matpac.h"
#include "board.h"

/* The model and WAV, embedded by blobs.S (paths chosen by run-qemu-c.sh). */
extern const uint8_t matpac_model[], matpac_model_end[];
extern const uint8_t matpac_scene[], matpac_scene_end[];

/* Buffers for the model: a fixed budget, as firmware would reserve it (the bundled
 * student fits; `-D` overrides). They must hold at least what matpac_model_info reports
 * (printed on the `sizes` line); matpac_tagger_init fails with a status otherwise. */
#ifndef WINDOW_LEN
#define WINDOW_LEN 8192
#endif
#ifndef ARENA_LEN
#define ARENA_LEN 32768
#endif

/* Samples per push: one 10 ms hop at 16 kHz, as a DMA buffer would deliver them. */
#define CHUNK 160

static matpac_tagger tagger; /* zeroed: .bss */
static int8_t window[WINDOW_LEN];
static uint8_t arena[ARENA_LEN];

/* Prints one event line; counts it in *user. */
static void on_event(const matpac_event *event, void *user) {
    char line[128];
    size_t len = 0;
    matpac_status status = matpac_event_text(event, line, sizeof line - 1, &len);
    if (status != MATPAC_STATUS_OK) {
        print("error event text: ");
        print(matpac_status_message(status));
        print("\n");
        return;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    print(line);
    *(uint32_t *)user += 1;
}

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t read_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The `data` bytes of a 16-bit mono PCM WAV (a walk over its RIFF chunks), or NULL. */
static const uint8_t *wav_pcm16_mono(const uint8_t *wav, size_t len, size_t *data_len,
                                     uint32_t *rate) {
    if (len < 12 || memcmp(wav, "RIFF", 4) != 0 || memcmp(wav + 8, "WAVE", 4) != 0) {
        return NULL;
    }
    int have_fmt = 0;
    for (size_t at = 12; at + 8 <= len;) {
        uint32_t size = read_u32(wav + at + 4);
        const uint8_t *body = wav + at + 8;
        if (size > len - at - 8) {
            return NULL;
        }
        if (memcmp(wav + at, "fmt ", 4) == 0 && size >= 16) {
            if (read_u16(body) != 1 || read_u16(body + 2) != 1 || read_u16(body + 14) != 16) {
                return NULL;
            }
            *rate = read_u32(body + 4);
            have_fmt = 1;
        } else if (memcmp(wav + at, "data", 4) == 0) {
            *data_len = size;
            return have_fmt ? body : NULL;
        }
        at += 8 + size + (size & 1);
    }
    return NULL;
}

static int fail(const char *what, matpac_status status) {
    char detail[160];
    print("error ");
    print(what);
    print(": ");
    print(matpac_status_message(status));
    if (matpac_tagger_error_text(&tagger, detail, sizeof detail, NULL) == MATPAC_STATUS_OK &&
        detail[0] != '\0') {
        print(" (");
        print(detail);
        print(")");
    }
    print("\n");
    return 1;
}

int main(void) {
    size_t model_len = (size_t)(matpac_model_end - matpac_model);
    matpac_info info;
    matpac_status status = matpac_model_info(matpac_model, model_len, &info);
    if (status != MATPAC_STATUS_OK) {
        return fail("model", status);
    }
    size_t data_len = 0;
    uint32_t rate = 0;
    const uint8_t *data = wav_pcm16_mono(matpac_scene, (size_t)(matpac_scene_end - matpac_scene),
                                         &data_len, &rate);
    if (data == NULL || rate != info.sample_rate) {
        print("error scene: not a 16-bit mono WAV at the model's sample rate\n");
        return 1;
    }
    print("sizes storage=");
    print_uint(sizeof tagger);
    print(" window=");
    print_uint(info.window_len);
    print(" arena=");
    print_uint(info.arena_len);
    print(" model=");
    print_uint(model_len);
    print(" samples=");
    print_uint(data_len / 2);
    print(" sample_rate=");
    print_uint(rate);
    print("\n");

    status = matpac_tagger_init(&tagger, matpac_model, model_len, window, sizeof window, arena,
                                sizeof arena);
    if (status != MATPAC_STATUS_OK) {
        return fail("init", status);
    }
    /* Stack high-water marks: model_info and init, then push and finish alone. */
    uint32_t stack_init = stack_used_bytes();
    stack_paint();
    uint32_t events = 0;
    int16_t chunk[CHUNK];
    for (size_t at = 0; at + 1 < data_len; at += sizeof chunk) {
        size_t bytes = data_len - at < sizeof chunk ? data_len - at : sizeof chunk;
        /* The WAV's bytes are little-endian like the Cortex-M4; memcpy also aligns them. */
        memcpy(chunk, data + at, bytes);
        status = matpac_tagger_push(&tagger, chunk, bytes / 2, on_event, &events);
        if (status != MATPAC_STATUS_OK) {
            return fail("push", status);
        }
    }
    status = matpac_tagger_finish(&tagger, on_event, &events);
    if (status != MATPAC_STATUS_OK) {
        return fail("finish", status);
    }
    print("end events=");
    print_uint(events);
    print(" stack_init_bytes=");
    print_uint(stack_init);
    print(" stack_push_bytes=");
    print_uint(stack_used_bytes());
    print("\n");
    return events > 0 ? 0 : 1;
}
