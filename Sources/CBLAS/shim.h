// OpenBLAS's CBLAS interface for the float training module (CLIPTrain). Debian's
// libopenblas-dev puts cblas.h under openblas-pthread/, which pkg-config "openblas" adds.
#include <cblas.h>
