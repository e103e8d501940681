"""Factories of the cycle app, shared by every test module of the cycle.

``CycleFactory()`` is the 2021 edition's cycle with its seven séances (created by
``ensure_cycle``, as in production). ``ParticipantFactory()`` is a collectivité whose complete,
submitted dossier was retained (published decision), enrolled « à confirmer » with its two
référent·es as titulaires. ``MembreBinomeFactory(participant=p)`` adds a suppléant·e.
"""

import factory
from django.utils import timezone

from candidatures.models import AccesCandidature, Candidature, Decision, Issue
from cycle.models import Cycle, MembreBinome, Participant, Seance
from cycle.participants.services import members_from_referents
from cycle.seances.services import ensure_cycle
from tests.candidatures.factories import AppelFactory, complete_candidature, numbered


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cycle

    appel = factory.SubFactory(AppelFactory, edition_2021=True)

    @classmethod
    def _create(cls, model_class, *args, appel, **kwargs):
        cycle = ensure_cycle(appel)
        if kwargs:
            for field, value in kwargs.items():
                setattr(cycle, field, value)
            cycle.save()
        return cycle


class SeanceFactory(factory.django.DjangoModelFactory):
    """One séance of a cycle: ``SeanceFactory(cycle=c, numero=3)`` is that cycle's séance 3.

    The séances exist already (``ensure_cycle``), so other keyword arguments update them.
    """

    class Meta:
        model = Seance

    cycle = factory.SubFactory(CycleFactory)
    numero = 1

    @classmethod
    def _create(cls, model_class, *args, cycle, numero, **kwargs):
        seance, _created = Seance.objects.get_or_create(
            cycle=cycle, numero=numero, defaults={"date": cycle.appel.first_session_date}
        )
        if kwargs:
            for field, value in kwargs.items():
                setattr(seance, field, value)
            seance.save()
        return seance


def straddle_today(cycle, *, held) -> list[Seance]:
    """Move the cycle's séances so that 1..``held`` are past, six weeks apart, the last of them
    yesterday, and the others to come. Every état becomes « prévue »: the dates decide what is
    held (``SeanceQuerySet.started``), not what staff ticked."""
    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    for seance in cycle.seances.all():
        Seance.objects.filter(pk=seance.pk).update(
            date=yesterday + timezone.timedelta(weeks=6 * (seance.numero - held)),
            etat=Seance.Etat.PREVUE,
        )
    return list(cycle.seances.order_by("numero"))


def submitted_candidature(appel, **kwargs) -> Candidature:
    """A complete dossier, marked as submitted (without the receipt workflow: faster)."""
    candidature = complete_candidature(appel=appel, **kwargs)
    appel.refresh_from_db(fields=["dernier_numero"])
    candidature.statut = Candidature.Statut.DEPOSEE
    candidature.numero = numbered(appel, appel.dernier_numero + 1)
    candidature.deposee_at = appel.closes_at - timezone.timedelta(days=1)
    candidature.save()
    return candidature


def retain(candidature, *, published=True, issue=Issue.RETENUE, **kwargs) -> Decision:
    """A decision on ``candidature``; published on the call's announcement date by default."""
    defaults = {"motivation": "" if issue == Issue.RETENUE else "Le cycle est complet."}
    if issue == Issue.LISTE_ATTENTE:
        defaults["rang_attente"] = 1
    if kwargs.get("desistement_at"):
        defaults["desistement_motif"] = "Le conseil municipal a renoncé au cycle."
    defaults.update(kwargs)
    return Decision.objects.create(
        candidature=candidature,
        issue=issue,
        published_at=candidature.appel.announcement_at if published else None,
        decided_at=candidature.appel.announcement_at,
        **defaults,
    )


class ParticipantFactory(factory.django.DjangoModelFactory):
    """A retained collectivité in the cycle.

    ``createur=user`` gives ``user`` access to the dossier (so the participation is theirs);
    ``binome=False`` leaves the binôme empty; ``decision=False`` skips the published decision.
    """

    class Meta:
        model = Participant
        skip_postgeneration_save = True

    cycle = factory.SubFactory(CycleFactory)
    candidature = factory.LazyAttribute(lambda o: submitted_candidature(o.cycle.appel))

    @factory.post_generation
    def createur(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.candidature.acces.create(user=extracted, role=AccesCandidature.Role.CREATEUR)

    @factory.post_generation
    def decision(self, create, extracted, **kwargs):
        if create and extracted is not False:
            retain(self.candidature)

    @factory.post_generation
    def binome(self, create, extracted, **kwargs):
        if create and extracted is not False:
            for member in members_from_referents(self.candidature):
                MembreBinome.objects.create(participant=self, **member)


class MembreBinomeFactory(factory.django.DjangoModelFactory):
    """A suppléant·e élu·e by default (the titulaires come with ``ParticipantFactory``)."""

    class Meta:
        model = MembreBinome

    participant = factory.SubFactory(ParticipantFactory)
    role = MembreBinome.Role.ELU
    titulaire = False
    nom = factory.Faker("name", locale="fr_FR")
    fonction = "Conseiller·ère municipal·e"
    email = factory.Sequence(lambda n: f"membre{n}@binome.exemple.test")
    telephone = "03 21 00 00 00"
