// pc_jpeg_rows.h — libjpeg's scanline API behind functions that never longjmp into the caller.
//
// TurboJPEG (CImageCodecs) only decodes whole images; decoding one row at a time needs libjpeg's
// own API, whose errors arrive by longjmp out of the library. Each function here sets its own
// setjmp and returns a status, so no longjmp ever crosses a Swift frame. After a fatal error every
// later call fails at once; pc_jpeg_rows_close is always safe.
//
// Decoding settings are TurboJPEG's tjDecompress2 with TJFLAG_ACCURATEDCT (what the JPEG decoder used
// before): JDCT_ISLOW, fancy upsampling, no scaling; output RGB, GRAY or CMYK. Messages follow
// TurboJPEG: the fatal error's text, else the first warning's.
#ifndef PC_JPEG_ROWS_H
#define PC_JPEG_ROWS_H

#include <stddef.h>

typedef struct pc_jpeg_rows pc_jpeg_rows;

/// Why a call failed (pc_jpeg_rows_failure).
enum {
    PC_JPEG_NO_FAILURE = 0,
    /// The data ended before the frame header (SOF) was read.
    PC_JPEG_TRUNCATED_HEADER = 1,
    /// The stream reached its end-of-image marker (or a scan) without a frame header.
    PC_JPEG_NO_FRAME = 2,
    /// libjpeg could not allocate memory (its "Insufficient memory" error).
    PC_JPEG_OUT_OF_MEMORY = 3,
    /// Any other fatal libjpeg error (corrupt data, unsupported variant).
    PC_JPEG_CORRUPT = 4,
};

/// The colour spaces of the header, as TurboJPEG reports them.
enum { PC_JPEG_GRAY = 1, PC_JPEG_COLOR = 2, PC_JPEG_CMYK = 3 };

/// Reads from memory (not copied: keep it alive until close) or from an open file descriptor
/// (read with pread in 64 KiB pieces from offset 0; the descriptor stays the caller's).
/// NULL when the decompressor itself cannot be allocated.
pc_jpeg_rows *pc_jpeg_rows_open_memory(const unsigned char *data, size_t size);
pc_jpeg_rows *pc_jpeg_rows_open_fd(int fd);

/// Reads the header. 0 on success with width, height and colour (PC_JPEG_GRAY/COLOR/CMYK).
int pc_jpeg_rows_read_header(pc_jpeg_rows *d, int *width, int *height, int *color);
/// Starts decompression; output samples per pixel follow the header colour (1, 3 or 4).
int pc_jpeg_rows_start(pc_jpeg_rows *d);
/// Decodes the next row into `row` (width * samples bytes). 0 on success.
int pc_jpeg_rows_read_row(pc_jpeg_rows *d, unsigned char *row);
/// Finishes after the last row (reads up to the end-of-image marker). 0 on success.
int pc_jpeg_rows_finish(pc_jpeg_rows *d);
void pc_jpeg_rows_close(pc_jpeg_rows *d);

/// The failure kind of the last failed call (PC_JPEG_*), or PC_JPEG_NO_FAILURE.
int pc_jpeg_rows_failure(const pc_jpeg_rows *d);
/// The number of warnings so far (a cut-off file warns "Premature end of JPEG file" and decodes
/// the rest as gray; corrupt-data warnings are recoverable).
int pc_jpeg_rows_warnings(const pc_jpeg_rows *d);
/// The fatal error's message if there was one, else the first warning's, else "".
const char *pc_jpeg_rows_message(const pc_jpeg_rows *d);
/// Bytes of input handed to libjpeg so far (the file size once it has all been read).
size_t pc_jpeg_rows_bytes_read(const pc_jpeg_rows *d);

#endif
