// jpeg_rows.c — see include/pc_jpeg_rows.h.

#include "pc_jpeg_rows.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jerror.h>
#include <jpeglib.h>

enum { CHUNK = 64 * 1024 };

struct pc_jpeg_rows {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_source_mgr src;
    jmp_buf jump;
    int failed;         // a fatal error happened: every later call fails
    int failure;        // PC_JPEG_* of that error
    int header_read;
    int eof_hit;        // the source ran out and inserted a fake EOI
    char error[JMSG_LENGTH_MAX];
    char first_warning[JMSG_LENGTH_MAX];
    // Input: memory, or a descriptor read in CHUNK pieces into `buffer`.
    const unsigned char *data;
    size_t size;
    int fd;
    unsigned char *buffer;
    size_t offset;      // next byte to read from the descriptor / memory
    size_t handed;      // bytes given to libjpeg so far
};

static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};

static void on_error_exit(j_common_ptr cinfo) {
    pc_jpeg_rows *d = (pc_jpeg_rows *)cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, d->error);
    int code = cinfo->err->msg_code;
    if (code == JERR_OUT_OF_MEMORY) d->failure = PC_JPEG_OUT_OF_MEMORY;
    else if (!d->header_read && d->eof_hit) d->failure = PC_JPEG_TRUNCATED_HEADER;
    else if (!d->header_read && (code == JERR_NO_IMAGE || code == JERR_SOS_NO_SOF)) d->failure = PC_JPEG_NO_FRAME;
    else d->failure = PC_JPEG_CORRUPT;
    d->failed = 1;
    longjmp(d->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    pc_jpeg_rows *d = (pc_jpeg_rows *)cinfo->client_data;
    if (level >= 0) return;  // trace messages
    if (cinfo->err->num_warnings == 0) (*cinfo->err->format_message)(cinfo, d->first_warning);
    cinfo->err->num_warnings++;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

// The source: like libjpeg's memory source, a read past the end warns JWRN_JPEG_EOF and inserts
// an EOI marker, so a cut-off file decodes to the end (gray) and is refused by the caller.
static void src_init(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean src_fill(j_decompress_ptr cinfo) {
    pc_jpeg_rows *d = (pc_jpeg_rows *)cinfo->client_data;
    size_t got = 0;
    if (d->data) {
        got = d->size - d->offset;
        d->src.next_input_byte = d->data + d->offset;
    } else {
        for (;;) {
            ssize_t n = pread(d->fd, d->buffer, CHUNK, (off_t)d->offset);
            if (n < 0 && errno == EINTR) continue;
            got = n > 0 ? (size_t)n : 0;
            break;
        }
        d->src.next_input_byte = d->buffer;
    }
    if (got == 0) {
        WARNMS(cinfo, JWRN_JPEG_EOF);
        d->eof_hit = 1;
        d->src.next_input_byte = fake_eoi;
        d->src.bytes_in_buffer = 2;
        return TRUE;
    }
    d->offset += got;
    d->handed += got;
    d->src.bytes_in_buffer = got;
    return TRUE;
}

static void src_skip(j_decompress_ptr cinfo, long count) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (count <= 0) return;
    while (count > (long)src->bytes_in_buffer) {
        count -= (long)src->bytes_in_buffer;
        (void)(*src->fill_input_buffer)(cinfo);
    }
    src->next_input_byte += count;
    src->bytes_in_buffer -= (size_t)count;
}

static void src_term(j_decompress_ptr cinfo) { (void)cinfo; }

static pc_jpeg_rows *open_common(const unsigned char *data, size_t size, int fd) {
    pc_jpeg_rows *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->data = data;
    d->size = size;
    d->fd = fd;
    if (!data) {
        d->buffer = malloc(CHUNK);
        if (!d->buffer) { free(d); return NULL; }
    }
    d->cinfo.err = jpeg_std_error(&d->err);
    d->err.error_exit = on_error_exit;
    d->err.emit_message = on_emit_message;
    d->err.output_message = on_output_message;
    d->cinfo.client_data = d;
    if (setjmp(d->jump)) {  // jpeg_create_decompress can fail only for lack of memory
        jpeg_destroy_decompress(&d->cinfo);
        free(d->buffer);
        free(d);
        return NULL;
    }
    jpeg_create_decompress(&d->cinfo);
    d->cinfo.client_data = d;
    d->src.init_source = src_init;
    d->src.fill_input_buffer = src_fill;
    d->src.skip_input_data = src_skip;
    d->src.resync_to_restart = jpeg_resync_to_restart;
    d->src.term_source = src_term;
    d->cinfo.src = &d->src;
    return d;
}

pc_jpeg_rows *pc_jpeg_rows_open_memory(const unsigned char *data, size_t size) {
    static const unsigned char empty[1] = {0};
    return open_common(data ? data : empty, data ? size : 0, -1);
}

pc_jpeg_rows *pc_jpeg_rows_open_fd(int fd) { return open_common(NULL, 0, fd); }

int pc_jpeg_rows_read_header(pc_jpeg_rows *d, int *width, int *height, int *color) {
    if (d->failed) return -1;
    if (setjmp(d->jump)) return -1;
    jpeg_read_header(&d->cinfo, TRUE);
    d->header_read = 1;
    *width = (int)d->cinfo.image_width;
    *height = (int)d->cinfo.image_height;
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: *color = PC_JPEG_GRAY; break;
    case JCS_CMYK: case JCS_YCCK: *color = PC_JPEG_CMYK; break;
    default: *color = PC_JPEG_COLOR; break;
    }
    return 0;
}

int pc_jpeg_rows_start(pc_jpeg_rows *d) {
    if (d->failed || !d->header_read) return -1;
    if (setjmp(d->jump)) return -1;
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: d->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: d->cinfo.out_color_space = JCS_CMYK; break;
    default: d->cinfo.out_color_space = JCS_EXT_RGB; break;
    }
    d->cinfo.dct_method = JDCT_ISLOW;
    d->cinfo.do_fancy_upsampling = TRUE;
    d->cinfo.scale_num = d->cinfo.scale_denom = 1;
    jpeg_start_decompress(&d->cinfo);
    return 0;
}

int pc_jpeg_rows_read_row(pc_jpeg_rows *d, unsigned char *row) {
    if (d->failed) return -1;
    if (setjmp(d->jump)) return -1;
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(&d->cinfo, rows, 1) != 1) {
        snprintf(d->error, sizeof d->error, "no more rows after row %u", d->cinfo.output_scanline);
        d->failure = PC_JPEG_CORRUPT;
        d->failed = 1;
        return -1;
    }
    return 0;
}

int pc_jpeg_rows_finish(pc_jpeg_rows *d) {
    if (d->failed) return -1;
    if (setjmp(d->jump)) return -1;
    jpeg_finish_decompress(&d->cinfo);
    return 0;
}

void pc_jpeg_rows_close(pc_jpeg_rows *d) {
    if (!d) return;
    jpeg_destroy_decompress(&d->cinfo);
    free(d->buffer);
    free(d);
}

int pc_jpeg_rows_failure(const pc_jpeg_rows *d) { return d->failed ? d->failure : PC_JPEG_NO_FAILURE; }
int pc_jpeg_rows_warnings(const pc_jpeg_rows *d) { return (int)d->err.num_warnings; }
const char *pc_jpeg_rows_message(const pc_jpeg_rows *d) { return d->failed ? d->error : d->first_warning; }
size_t pc_jpeg_rows_bytes_read(const pc_jpeg_rows *d) { return d->handed; }
