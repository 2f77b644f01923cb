"""Near-duplicate groups in the article database: syndicated copies and revisions of one story.

An article's MinHash signature and its LSH band keys are computed before the write
(index/duplicates.py); here, inside the article's own write transaction, the band keys find
candidate articles, the signatures confirm them (estimated Jaccard similarity ≥ the threshold),
and the confirmed pairs are stored as edges. A group is a connected component of those edges,
so deleting an article can split its group again (``detach``). The LSH "index" is the indexed
``minhash_bands`` table: nothing to rebuild, and it commits or rolls back with the article.

The group's original is its earliest *full* copy: among the members at least
``full_copy_share`` as long as the group's longest member (a shorter one is an excerpt), the
first by publication date; undated members come after dated ones, then the earliest ingested,
then the smallest id.

Costs stay linear in the input: a write probes a bounded number of candidates
(``max_candidates``), merges relabel the smaller group, and the original is recomputed from all
members only when a merge or a much longer member makes the old one ineligible, on a delete of
a member, or on a metadata change of a member (the group's size then bounds the cost).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from newsdesk.domain import ArticleGroup, GroupMember
from newsdesk.stores.connections import Connection

# Members listed per group in passages and citations (`carried_by`); the group endpoint lists
# all of them.
MAX_LISTED_OUTLETS = 100


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What duplicate detection knows of an article's text."""

    signature: np.ndarray  # MinHash values, uint32
    band_keys: tuple[int, ...]  # one 64-bit key per LSH band


@dataclass(frozen=True, slots=True)
class GroupRules:
    threshold: float = 0.4  # estimated Jaccard similarity from which two texts are copies
    max_candidates: int = 50  # candidates confirmed per write (bounds a write's cost)
    full_copy_share: float = 0.8  # shorter than this × the longest member: an excerpt


@dataclass(frozen=True, slots=True)
class _Member:
    id: str
    chars: int
    published_at: str | None
    ingested_at: str

    def order(self) -> tuple[bool, str, str, str]:
        return (self.published_at is None, self.published_at or "", self.ingested_at, self.id)


# --- writes ------------------------------------------------------------------------------


def place(
    db: Connection, article_id: str, fingerprint: Fingerprint | None, rules: GroupRules
) -> int:
    """Put a stored article (not in any group yet) into the group of its near-duplicates, or a
    new group of one; returns the group id."""
    matches: list[tuple[str, float]] = []
    if fingerprint is not None:
        matches = _confirmed(db, article_id, fingerprint, rules)
        db.executemany(
            "INSERT INTO minhash_bands (band, key, article_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(band, key, article_id) for band, key in enumerate(fingerprint.band_keys)],
        )
        db.executemany(
            "INSERT INTO near_duplicates (a, b, similarity) VALUES (?, ?, ?)"
            " ON CONFLICT (a, b) DO UPDATE SET similarity = excluded.similarity",
            [(article_id, other, round(sim, 4)) for other, sim in matches],
        )
    signature = None if fingerprint is None else fingerprint.signature.astype("<u4").tobytes()
    member = _member(db, article_id)
    groups = _group_sizes(db, {_group_of(db, other) for other, _ in matches})
    if not groups:
        group = db.execute(
            "INSERT INTO duplicate_groups (original_id, max_chars, size) VALUES (?, ?, 1)"
            " RETURNING id",
            (article_id, member.chars),
        ).fetchone()[0]
        _join(db, article_id, group, signature)
        _store_outlets(db, int(group))
        return int(group)
    # The largest group keeps its id; the others are relabelled into it (union by size, so an
    # article is relabelled O(log n) times at most).
    target = max(groups, key=lambda g: (groups[g], -g))
    max_chars = max([member.chars, *(_max_chars(db, g) for g in groups)])
    originals = [_original(db, target)]
    for other in groups:
        if other == target:
            continue
        originals.append(_original(db, other))
        db.execute("UPDATE article_groups SET group_id = ? WHERE group_id = ?", (target, other))
        db.execute("DELETE FROM duplicate_groups WHERE id = ?", (other,))
    _join(db, article_id, target, signature)
    db.execute(
        "UPDATE duplicate_groups SET size = ?, max_chars = ? WHERE id = ?",
        (sum(groups.values()) + 1, max_chars, target),
    )
    # Each old original was the earliest full copy of its group: if all stay full under the
    # new longest member, the earliest of them and the newcomer is the merged group's.
    if all(_is_full(o, max_chars, rules) for o in originals):
        contenders = [*originals, member] if _is_full(member, max_chars, rules) else originals
        _set_original(db, target, min(contenders, key=_Member.order).id)
    else:
        recompute_original(db, target, rules)
    if len(groups) == 1:
        _add_outlet(db, target, article_id)  # a copy joins: one row, whatever the group's size
    else:
        _store_outlets(db, target)  # groups merged: read their members once
    return target


def detach(db: Connection, article_id: str, rules: GroupRules) -> None:
    """Take an article out of its group (before it is deleted or its text replaced); the
    remaining members are regrouped by the edges left, so a group can split."""
    row = db.execute(
        "SELECT group_id FROM article_groups WHERE article_id = ?", (article_id,)
    ).fetchone()
    db.execute("DELETE FROM minhash_bands WHERE article_id = ?", (article_id,))
    db.execute("DELETE FROM near_duplicates WHERE a = ? OR b = ?", (article_id, article_id))
    db.execute("DELETE FROM article_groups WHERE article_id = ?", (article_id,))
    if row is None:
        return
    group = int(row[0])
    members = [
        r[0]
        for r in db.execute("SELECT article_id FROM article_groups WHERE group_id = ?", (group,))
    ]
    if not members:
        db.execute("DELETE FROM duplicate_groups WHERE id = ?", (group,))
        return
    components = sorted(_components(db, members), key=len, reverse=True)
    for component in components[1:]:
        split = db.execute(
            "INSERT INTO duplicate_groups (original_id, max_chars, size) VALUES ('', 0, ?)"
            " RETURNING id",
            (len(component),),
        ).fetchone()[0]
        db.executemany(
            "UPDATE article_groups SET group_id = ? WHERE article_id = ?",
            [(split, member) for member in component],
        )
        recompute_original(db, int(split), rules)
        _store_outlets(db, int(split))
    _set_size(db, group, len(components[0]))
    recompute_original(db, group, rules)
    _store_outlets(db, group)


def refresh(db: Connection, article_id: str, rules: GroupRules) -> None:
    """After a change of an article's fields but not its text (its date may decide the
    original): recompute its group's original; a group of one if it had none."""
    row = db.execute(
        "SELECT group_id FROM article_groups WHERE article_id = ?", (article_id,)
    ).fetchone()
    if row is None:
        place(db, article_id, None, rules)
    else:
        recompute_original(db, int(row[0]), rules)
        _store_outlets(db, int(row[0]))  # its outlet or date may have changed


def recompute_original(db: Connection, group: int, rules: GroupRules) -> None:
    members = _members(db, group)
    max_chars = max(m.chars for m in members)
    full = [m for m in members if _is_full(m, max_chars, rules)]
    db.execute("UPDATE duplicate_groups SET max_chars = ? WHERE id = ?", (max_chars, group))
    _set_original(db, group, min(full, key=_Member.order).id)


def clear(db: Connection) -> None:
    """Forget every group (duplicate detection's parameters changed): they are rebuilt."""
    for table in ("near_duplicates", "minhash_bands", "article_groups", "duplicate_groups"):
        db.execute(f"DELETE FROM {table}")


# --- reads -------------------------------------------------------------------------------


def describe(db: Connection, article_id: str) -> ArticleGroup | None:
    row = db.execute(
        "SELECT g.id, g.original_id FROM article_groups m JOIN duplicate_groups g"
        " ON g.id = m.group_id WHERE m.article_id = ?",
        (article_id,),
    ).fetchone()
    if row is None:
        return None
    members = [
        GroupMember(id=r[0], source=r[1], published_at=_moment(r[2]))
        for r in db.execute(
            "SELECT a.id, a.source, a.published_at FROM article_groups m"
            " JOIN articles a ON a.id = m.article_id WHERE m.group_id = ?"
            " ORDER BY a.published_at IS NULL, a.published_at, a.ingested_at, a.id",
            (row[0],),
        )
    ]
    return ArticleGroup(id=row[0], original_id=row[1], members=members)


def group_outlets(db: Connection, groups: Iterable[int]) -> dict[int, list[str]]:
    """The distinct outlets of each group's members (at most MAX_LISTED_OUTLETS each), in
    order of first publication: one row per group, as the writes keep it."""
    wanted = sorted(set(groups))
    found: dict[int, list[str]] = {}
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        marks = ",".join("?" * len(batch))
        rows = db.execute(f"SELECT id, outlets FROM duplicate_groups WHERE id IN ({marks})", batch)
        for group, outlets in rows:
            # Null: made before the list was kept, and untouched since: read the members.
            entries = json.loads(outlets) if outlets is not None else _outlets(db, group)
            found[group] = [source for source, _ in entries]
    return found


# An outlet as the group keeps it: its name and its members' earliest publication (None when
# none of its members is dated).
_Outlet = tuple[str, str | None]


def _outlets(db: Connection, group: int) -> list[_Outlet]:
    """The group's outlets read from its members (cost: the group's size)."""
    rows = db.execute(
        "SELECT a.source, min(a.published_at) FROM article_groups m"
        " JOIN articles a ON a.id = m.article_id"
        " WHERE m.group_id = ? AND a.source IS NOT NULL GROUP BY a.source"
        " ORDER BY min(a.published_at) IS NULL, min(a.published_at), a.source LIMIT ?",
        (group, MAX_LISTED_OUTLETS),
    )
    return [(r[0], r[1]) for r in rows]


def outlet_order(outlet: tuple[str, str | None]) -> tuple[bool, str, str]:
    """Earliest first publication first, undated outlets last, then by name."""
    return (outlet[1] is None, outlet[1] or "", outlet[0])


def _store_outlets(db: Connection, group: int) -> None:
    """Keep the group's outlet list (read by every search hit) in step with its members."""
    db.execute(
        "UPDATE duplicate_groups SET outlets = ? WHERE id = ?",
        (json.dumps(_outlets(db, group)), group),
    )


def _add_outlet(db: Connection, group: int, article_id: str) -> None:
    """A member joined: fold its outlet into the kept list without reading the other members.
    Exact: an outlet left out of a full list first published no earlier than the last one
    listed, so the newcomer's outlet enters only by beating that one."""
    row = db.execute(
        "SELECT a.source, a.published_at, g.outlets FROM articles a, duplicate_groups g"
        " WHERE a.id = ? AND g.id = ?",
        (article_id, group),
    ).fetchone()
    if row is None or row[0] is None:
        return
    source, published, kept = row
    if kept is None:
        _store_outlets(db, group)
        return
    outlets: dict[str, str | None] = {name: first for name, first in json.loads(kept)}
    dates = [d for d in (outlets.get(source), published) if d is not None]
    outlets[source] = min(dates) if dates else None
    ordered = sorted(outlets.items(), key=outlet_order)[:MAX_LISTED_OUTLETS]
    db.execute("UPDATE duplicate_groups SET outlets = ? WHERE id = ?", (json.dumps(ordered), group))


def ungrouped_ids(db: Connection) -> list[str]:
    """Ids of the articles in no group yet (stored before duplicate detection existed),
    oldest first. Ids only: one scan, however many there are; the texts are read per batch."""
    rows = db.execute(
        "SELECT a.id FROM articles a LEFT JOIN article_groups m ON m.article_id = a.id"
        " WHERE m.article_id IS NULL ORDER BY a.published_at IS NULL, a.published_at, a.id"
    )
    return [r[0] for r in rows]


# --- helpers -----------------------------------------------------------------------------


def _confirmed(
    db: Connection, article_id: str, fingerprint: Fingerprint, rules: GroupRules
) -> list[tuple[str, float]]:
    """Stored articles sharing a band (most shared bands first, at most max_candidates) whose
    signatures agree on at least `threshold` of their values."""
    shared: dict[str, int] = {}
    for band, key in enumerate(fingerprint.band_keys):
        for (other,) in db.execute(
            "SELECT article_id FROM minhash_bands WHERE band = ? AND key = ? AND article_id != ?"
            " LIMIT ?",
            (band, key, article_id, rules.max_candidates),
        ):
            shared[other] = shared.get(other, 0) + 1
    candidates = sorted(shared, key=lambda c: (-shared[c], c))[: rules.max_candidates]
    if not candidates:
        return []
    marks = ",".join("?" * len(candidates))
    rows = db.execute(
        f"SELECT article_id, signature FROM article_groups WHERE article_id IN ({marks})"
        " AND signature IS NOT NULL",
        candidates,
    ).fetchall()
    confirmed = []
    for other, blob in rows:
        theirs = np.frombuffer(blob, dtype="<u4")
        if len(theirs) != len(fingerprint.signature):
            continue
        similarity = float(np.mean(theirs == fingerprint.signature))
        if similarity >= rules.threshold:
            confirmed.append((other, similarity))
    return confirmed


def _join(db: Connection, article_id: str, group: int, signature: bytes | None) -> None:
    db.execute(
        "INSERT INTO article_groups (article_id, group_id, signature) VALUES (?, ?, ?)",
        (article_id, group, signature),
    )


def _group_of(db: Connection, article_id: str) -> int:
    row = db.execute(
        "SELECT group_id FROM article_groups WHERE article_id = ?", (article_id,)
    ).fetchone()
    return int(row[0])


def _group_sizes(db: Connection, groups: set[int]) -> dict[int, int]:
    return {
        g: int(db.execute("SELECT size FROM duplicate_groups WHERE id = ?", (g,)).fetchone()[0])
        for g in groups
    }


def _set_size(db: Connection, group: int, size: int) -> None:
    db.execute("UPDATE duplicate_groups SET size = ? WHERE id = ?", (size, group))


def _max_chars(db: Connection, group: int) -> int:
    row = db.execute("SELECT max_chars FROM duplicate_groups WHERE id = ?", (group,)).fetchone()
    return int(row[0]) if row else 0


def _original(db: Connection, group: int) -> _Member:
    row = db.execute("SELECT original_id FROM duplicate_groups WHERE id = ?", (group,)).fetchone()
    return _member(db, row[0])


def _set_original(db: Connection, group: int, article_id: str) -> None:
    db.execute("UPDATE duplicate_groups SET original_id = ? WHERE id = ?", (article_id, group))


def _is_full(member: _Member, max_chars: int, rules: GroupRules) -> bool:
    return member.chars >= rules.full_copy_share * max_chars


_MEMBER_COLUMNS = "a.id, length(a.text), a.published_at, a.ingested_at"


def _member(db: Connection, article_id: str) -> _Member:
    row = db.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM articles a WHERE a.id = ?", (article_id,)
    ).fetchone()
    return _Member(row[0], int(row[1]), row[2], row[3])


def _members(db: Connection, group: int) -> list[_Member]:
    rows = db.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM article_groups m JOIN articles a ON a.id = m.article_id"
        " WHERE m.group_id = ?",
        (group,),
    )
    return [_Member(r[0], int(r[1]), r[2], r[3]) for r in rows]


def _components(db: Connection, members: Sequence[str]) -> list[list[str]]:
    """Connected components of the members over the stored near-duplicate edges."""
    remaining = set(members)
    components: list[list[str]] = []
    for start in members:
        if start not in remaining:
            continue
        remaining.discard(start)
        component, frontier = [start], [start]
        while frontier:
            node = frontier.pop()
            for (other,) in db.execute(
                "SELECT b FROM near_duplicates WHERE a = ? UNION SELECT a FROM near_duplicates"
                " WHERE b = ?",
                (node, node),
            ):
                if other in remaining:
                    remaining.discard(other)
                    component.append(other)
                    frontier.append(other)
        components.append(component)
    return components


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
