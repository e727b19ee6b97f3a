/* ITCH 5.0 message types as the whole tree sees them: the table is
 * itch_msgs.def (beside this header, one row per type); this header only
 * numbers its rows, so every per-type array in the collector and the
 * processor is sized and indexed from that one table. */
#ifndef MDM_ITCH_H
#define MDM_ITCH_H

/* Dense index of each type, in .def order (which is also the order of the
 * MarketEvent oneof in events.proto, tags 10..32: tested in test_validate). */
enum mdm_itch_index {
#define ITCH_MSG(type, name, ...) MDM_ITCH_##name,
#include "itch_msgs.def"
#undef ITCH_MSG
	MDM_ITCH_NTYPES
};

#endif
