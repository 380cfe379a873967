import time

from django.core.management.base import BaseCommand, CommandError

from battles.generation import job_state, jobs
from battles.models import LLM, GenerationJob, PromptPool
from battles.realtime import job_pushes


class Command(BaseCommand):
    help = "Start a generation job: a prompt pool × a set of LLMs (their current versions)."

    def add_arguments(self, parser):
        parser.add_argument("pool", help="Name of the prompt pool")
        parser.add_argument("--llm", action="append", default=[], help="LLM name (repeat); default: every active LLM")
        parser.add_argument("--samples", type=int, default=1, help="Answers per prompt and LLM")
        parser.add_argument("--wait", action="store_true", help="Wait until every queued answer is done or failed")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait with --wait")

    def handle(self, *args, **options):
        try:
            pool = PromptPool.objects.get(name=options["pool"])
        except PromptPool.DoesNotExist:
            raise CommandError(f"There is no prompt pool named {options['pool']!r}.") from None
        if options["llm"]:
            llms = list(LLM.objects.filter(name__in=options["llm"]))
            missing = set(options["llm"]) - {llm.name for llm in llms}
            if missing:
                raise CommandError(f"Unknown LLM(s): {', '.join(sorted(missing))}")
        else:
            llms = list(LLM.objects.filter(status=LLM.Status.ACTIVE, imported=False))
        retired = [llm.name for llm in llms if not llm.is_active]
        if retired:
            raise CommandError(f"Retired LLM(s) cannot generate: {', '.join(retired)}")
        if not llms:
            raise CommandError("There is no active LLM to generate with.")
        versions = [llm.current_version() for llm in llms]
        try:
            job = jobs.start_generation_job(pool=pool, versions=versions, samples=options["samples"])
        except jobs.JobError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Queued {job.queued} generation(s) for {len(versions)} LLM(s) on pool {pool.name!r} "
            f"(job {job.code}; its page: /admin/battles/generationjob/{job.code}/progress/)."
        )
        if options["wait"]:
            self._wait(job, options["timeout"])

    def _wait(self, job, timeout):
        deadline = time.monotonic() + timeout
        generations = job_state.scope(job)
        while True:
            open_count = generations.filter(status__in=["pending", "running"]).count()
            if open_count == 0:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Timed out with {open_count} generation(s) unfinished.")
            time.sleep(1)
        if job_state.finish_if_done(GenerationJob.objects.get(pk=job.pk)):
            job_pushes.notify(job)
        done = generations.filter(status="done").count()
        failed = generations.filter(status="failed")
        self.stdout.write(f"Done: {done}, failed: {failed.count()}.")
        for generation in failed.select_related("llm_version__llm")[:20]:
            self.stdout.write(
                f"  failed: {generation.llm_version.label} prompt {generation.prompt_id}: {generation.error}"
            )
