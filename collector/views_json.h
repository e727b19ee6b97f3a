/* JSON shape of a market view (views.h), shared by the tools. */
#ifndef VIEWS_JSON_H
#define VIEWS_JSON_H

#include "mdm_json.h"
#include "views.h"

/* {"view":"bbo"|"depth","session","seq","symbol","stock_locate","ts", bid_/ask_ price, size,
 * orders | "bids"/"asks":[{"price","size","orders"}], "flags"} */
void views_json(struct mdm_json *j, const char *session, const char *symbol, const struct views_out *o);

#endif
