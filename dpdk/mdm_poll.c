/* Storage for the process-wide stop flag. */
#include "mdm_poll.h"

volatile bool mdm_poll_stop_flag;
