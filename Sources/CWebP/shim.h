// libwebp's still-image decoder (decode.h) and the animation decoder over its demuxer (demux.h),
// the two APIs Pillow's _webp module calls.
#include <webp/decode.h>
#include <webp/demux.h>
