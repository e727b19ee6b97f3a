/* Bump allocator for one batch of decoded events: protobuf-c unpacks into it
 * through a ProtobufCAllocator, stages take note memory from it, and reset
 * drops everything at once. Chunks only grow (kept across batches), so a
 * steady state allocates nothing. One arena per worker thread. */
#ifndef ARENA_H
#define ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct arena;

/* chunk_len: bytes of the first chunk (later ones double). 0 or -ENOMEM. */
int arena_create(struct arena **out, size_t chunk_len);
void arena_destroy(struct arena *a); /* NULL-safe */

/* len bytes, 16-byte aligned, or NULL (out of memory). Hot-path safe once warm. */
void *arena_alloc(struct arena *a, size_t len);

/* True when an allocation failed since the last reset (so a failed unpack
 * was memory, not a bad payload). */
bool arena_failed(const struct arena *a);

/* Forget every allocation; keeps the chunks. */
void arena_reset(struct arena *a);

/* Bytes handed out since the last reset, and held in chunks. */
size_t arena_used(const struct arena *a);
size_t arena_capacity(const struct arena *a);

/* An allocator for protobuf_c_message_unpack that draws from `a` (free is a
 * no-op; reset releases). Valid as long as `a`. */
ProtobufCAllocator *arena_pb_allocator(struct arena *a);

#endif
