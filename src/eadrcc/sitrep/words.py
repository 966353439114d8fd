"""The words of a situation report in NATO's two languages. The API's Markdown and
HTML stay English (their column names are the JSON field names); a French
e-mail subscription reads its daily report in French."""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "fr"]

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "exercise_prefix": "EXERCISE — ",
        "exercise_banner": "EXERCISE — not a real emergency",
        "title": "Situation report: {title}",
        "lead_state": "As of {as_of} (event {seq}). Hazard: {hazard}; severity: {severity}; "
        "status: {status}; affected: {countries}.",
        "lead_counts": "{requests} request(s) with {needs} need(s): {accepted} fully accepted, "
        "{uncovered} not yet covered, {late} late, {at_risk} at risk. {offers} offer(s) still "
        "on offer from {nations} nation(s); {lines} accepted line(s), {delivered} delivered.",
        "outstanding": "Outstanding needs",
        "supply": "Supply against demand by resource type",
        "duplicates": "Same help offered through two channels",
        "by_nation": "Offers and acceptances by nation and channel",
        "all_needs": "All needs",
        "none": "(none)",
        "LATE": "LATE",
        "AT RISK": "AT RISK",
        "UNCOVERED": "UNCOVERED",
        "DUPLICATED": "DUPLICATED",
    },
    "fr": {
        "exercise_prefix": "EXERCICE — ",
        "exercise_banner": "EXERCICE — pas une urgence réelle",
        "title": "Rapport de situation : {title}",
        "lead_state": "Au {as_of} (événement {seq}). Aléa : {hazard} ; gravité : {severity} ; "
        "statut : {status} ; pays touchés : {countries}.",
        "lead_counts": "{requests} demande(s) portant sur {needs} besoin(s) : {accepted} "
        "entièrement accepté(s), {uncovered} pas encore couvert(s), {late} en retard, "
        "{at_risk} à risque. {offers} offre(s) toujours disponible(s) de {nations} nation(s) ; "
        "{lines} ligne(s) acceptée(s), {delivered} livrée(s).",
        "outstanding": "Besoins non satisfaits",
        "supply": "Offre et demande par type de ressource",
        "duplicates": "Même aide offerte par deux canaux",
        "by_nation": "Offres et acceptations par nation et par canal",
        "all_needs": "Tous les besoins",
        "none": "(aucun)",
        "LATE": "EN RETARD",
        "AT RISK": "À RISQUE",
        "UNCOVERED": "NON COUVERT",
        "DUPLICATED": "EN DOUBLE",
    },
}

# Column headings for a French reader (English keeps the field names).
FRENCH_COLUMNS = {
    "requesting_country": "pays demandeur",
    "resource_type": "type de ressource",
    "priority": "priorité",
    "requested": "demandé",
    "proposed": "proposé",
    "accepted": "accepté",
    "in_transit": "en route",
    "delivered": "livré",
    "uncovered_quantity": "non couvert",
    "needed_by": "requis pour",
    "eta": "arrivée prévue",
    "flags": "alertes",
    "offered": "offert",
    "surplus": "excédent",
    "need_id": "besoin",
    "offering_country": "pays offrant",
    "channel": "canal",
    "item_id": "article",
    "duplicate_channel": "canal en double",
    "duplicate_item_id": "article en double",
    "country": "pays",
    "withdrawn": "retiré",
}


def column(name: str, language: Language) -> str:
    if language == "fr":
        return FRENCH_COLUMNS.get(name, name.replace("_", " "))
    return name.replace("_", " ")
