/* mprof plot: placeholder until the cairo renderer lands (issue 6). */
#include "mprof.h"

int mprof_plot_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    mprof_error("plot", "plotting is not built yet");
    return MPROF_EUSAGE;
}
