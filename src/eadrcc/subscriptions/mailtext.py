"""E-mail text, pure: a batch of events → subject, plain text and HTML, in English
or French. No I/O here, so it is tested without a server."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

SITREP = "sitrep.daily"
LABELS: dict[str, tuple[str, str]] = {
    "request.circulated": ("request for assistance circulated", "demande d'assistance diffusée"),
    "request.created": ("new request for assistance", "nouvelle demande d'assistance"),
    "need.updated": ("need changed", "besoin modifié"),
    "offer.created": ("new offer", "nouvelle offre"),
    "offer.withdrawn": ("offer withdrawn", "offre retirée"),
    "match.proposed": ("match proposed", "appariement proposé"),
    "match.accepted": ("offer accepted", "offre acceptée"),
    "match.declined": ("offer declined", "offre déclinée"),
    "match.superseded": ("proposal superseded", "proposition remplacée"),
    "match.dispatched": ("help on its way", "aide en route"),
    "match.delivered": ("help delivered", "aide livrée"),
    "emergency.created": ("emergency opened", "urgence ouverte"),
    "emergency.updated": ("emergency updated", "urgence mise à jour"),
    "alert.received": ("alert received", "alerte reçue"),
    "partner.updated": ("partner record updated", "fiche partenaire modifiée"),
    "response.updated": ("response updated", "réponse mise à jour"),
    "response.reminder": ("reminder: please answer", "rappel : merci de répondre"),
    "response.overdue": ("no answer yet (overdue)", "toujours sans réponse (en retard)"),
    "subscription.suspended": ("delivery channel suspended", "canal de diffusion suspendu"),
    "subscription.resumed": ("delivery channel resumed", "canal de diffusion rétabli"),
    SITREP: ("daily situation report", "rapport de situation quotidien"),
}
WORDS = {
    "en": {
        "several": "several emergencies",
        "updates": "{n} updates",
        "exercise": "EXERCISE",
        "intro": "What changed, oldest first (times in UTC):",
        "footer": "Sent by the EADRCC hub to the subscription {sub}; "
        "the same events are on the hub's API and console.",
        "you_declared": "You declared: {what}, for need {need}",
        "declared_by": "{country} declared: {what}, for need {need}",
    },
    "fr": {
        "several": "plusieurs urgences",
        "updates": "{n} mises à jour",
        "exercise": "EXERCICE",
        "intro": "Ce qui a changé, du plus ancien au plus récent (heures UTC) :",
        "footer": "Envoyé par le hub de l'EADRCC à l'abonnement {sub} ; "
        "les mêmes événements sont sur l'API et la console du hub.",
        "you_declared": "Vous avez déclaré : {what}, pour le besoin {need}",
        "declared_by": "{country} a déclaré : {what}, pour le besoin {need}",
    },
}


def label(kind: str, language: str) -> str:
    pair = LABELS.get(kind)
    return kind if pair is None else pair[1 if language == "fr" else 0]


def subject(
    events: list[dict[str, Any]], titles: dict[str, tuple[str, bool]], language: str
) -> str:
    """`[EADRCC] <emergency title>: <what happened>`."""
    words = WORDS[language]
    ids = {e["emergency_id"] for e in events if e["emergency_id"]}
    if len(ids) == 1:
        title, exercise = titles.get(next(iter(ids)), ("?", False))
        where = f"{words['exercise']} {title}" if exercise else title
    else:
        where = words["several"] if ids else "EADRCC"
    kinds = list(dict.fromkeys(label(e["kind"], language) for e in events))
    if len(events) == 1:
        what = kinds[0]
    else:
        what = f"{words['updates'].format(n=len(events))} ({', '.join(kinds[:3])}"
        what += ", …)" if len(kinds) > 3 else ")"
    return _one_line(f"[EADRCC] {where}: {what}")


def _one_line(text: str) -> str:
    # Titles come from users: no line breaks may reach a header.
    return " ".join(text.split())[:250]


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _details(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's plain fields (ids, countries, quantities, states), at most twelve."""
    found = [
        (key, str(value))
        for key, value in data.items()
        if isinstance(value, str | int | float | bool)
    ]
    return [(k, v[:200]) for k, v in found[:12]]


def _declared(data: dict[str, Any], language: str, reader: str | None) -> list[str]:
    """What a circulated RFA asks of a nation that it said it holds: one line per
    need it declared a capacity for ("You declared" when the reader is that nation)."""
    words = WORDS[language]
    country = str(data.get("country", ""))
    template = words["you_declared"] if reader == country else words["declared_by"]
    found = data.get("your_declared_capacities") or []
    return [
        template.format(
            country=country,
            what=f"{d['resource_type']} x{d['quantity']} ({d['capacity_id']})",
            need=f"{d['need_type']} ({d['need_id']})",
        )[:300]
        for d in found[:20]
        if isinstance(d, dict)
    ]


def plain(
    events: list[dict[str, Any]], language: str, subscription_id: str, reader: str | None = None
) -> str:
    """`reader`: the nation whose POC view the subscription receives (None: staff)."""
    words = WORDS[language]
    lines = [words["intro"], ""]
    for e in events:
        lines.append(f"- {_when(e['at'])}  {label(e['kind'], language)}  (#{e['seq']})")
        lines.extend(f"    {line}" for line in _declared(e["data"], language, reader))
        lines.extend(f"    {k}: {v}" for k, v in _details(e["data"]))
    lines += ["", "-- ", words["footer"].format(sub=subscription_id)]
    return "\n".join(lines) + "\n"


def html(
    events: list[dict[str, Any]], language: str, subscription_id: str, reader: str | None = None
) -> str:
    words = WORDS[language]
    items = []
    for e in events:
        declared = "".join(
            f"<li><strong>{escape(line)}</strong></li>"
            for line in _declared(e["data"], language, reader)
        )
        details = declared + "".join(
            f"<li><code>{escape(k)}</code>: {escape(v)}</li>" for k, v in _details(e["data"])
        )
        items.append(
            f"<li><strong>{escape(label(e['kind'], language))}</strong> "
            f"<small>{escape(_when(e['at']))} · #{e['seq']}</small><ul>{details}</ul></li>"
        )
    return (
        f'<!doctype html><html lang="{language}"><meta charset="utf-8"><body>'
        f"<p>{escape(words['intro'])}</p><ol>{''.join(items)}</ol>"
        f"<p><small>{escape(words['footer'].format(sub=subscription_id))}</small></p>"
        "</body></html>"
    )
