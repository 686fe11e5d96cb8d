"""Looks at every key in Redis after a conversation: what expires, when, and what is shared."""

from __future__ import annotations

from typing import Dict, List, Set

from redis.asyncio import Redis

from core.redis_keys import RedisKeys


def shared_keys(keys: RedisKeys, agent_ids: List[str]) -> Set[str]:
    """Keys that are not a conversation's, and why each may live without a TTL.

    * ``outbound``: the delivery stream with its consumer group (an expiry would drop the group);
      trimmed of entries older than the retention on every write.
    * ``service-events``: the event log's buffer with its consumer group; the mover deletes each entry
      once it is in the event log's database (``analytics/mover.py``).
    * ``queue``: who is waiting right now; a conversation leaves it when taken or given up.
    * ``mail:due``: job ids only; each job hash expires by itself.
    * ``handle-times``: numbers only, the last 50.
    * the agents' hashes, chat sets and the online set: agents, not customers.
    """
    found = {keys.outbound(), keys.queue(), keys.mail_due(), keys.handle_times(), keys.agents_online(),
             keys.service_events()}
    for agent_id in agent_ids:
        found |= {keys.agent(agent_id), keys.agent_chats(agent_id)}
    return found


async def ttls(redis: Redis, prefix: str) -> Dict[str, int]:
    """Every key under ``prefix`` with its TTL in seconds (-1: none); a key that expired meanwhile is left out."""
    out: Dict[str, int] = {}
    async for key in redis.scan_iter(match=f"{prefix}*", count=500):
        ttl = int(await redis.ttl(key))
        if ttl != -2:
            out[str(key)] = ttl
    return out


async def shared_contents(redis: Redis, key: str) -> str:
    """Everything a shared key holds, as text (to check no customer detail lingers there)."""
    kind = await redis.type(key)
    if kind == "zset":
        return " ".join(await redis.zrange(key, 0, -1))
    if kind == "set":
        return " ".join(await redis.smembers(key))
    if kind == "list":
        return " ".join(await redis.lrange(key, 0, -1))
    if kind == "hash":
        return " ".join(f"{k}={v}" for k, v in (await redis.hgetall(key)).items())
    if kind == "stream":
        return " ".join(str(fields) for _, fields in await redis.xrange(key))
    return str(await redis.get(key))
