"""What dbt Cloud adds to the catalog: jobs and runs, nodes matched to warehouse tables,
tests with their history, exposures, dictionary terms, groups and table lineage.

Every row belongs to the dbt Cloud integration that brought it. Facts come by kind, each
from the run that produced it: a node's definition from the newest manifest (`job`,
`run`, `fact_finished_at`), its build result from the newest run that built it
(`execution_*`), its compiled code, catalog columns and freshness likewise. A newer run
that did not build, compile, document or check a node says nothing about it. What each
live job's newest run said is kept per job (`DbtJobFact`), so that dropping a job drops
only the facts it alone supplied.
"""

from __future__ import annotations

from django.db import models


class DbtObject(models.Model):
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class DbtJob(DbtObject):
    """A dbt Cloud job whose runs the catalog reads."""

    dbt_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    project_id = models.BigIntegerField(null=True, blank=True)
    project_name = models.CharField(max_length=255, blank=True)
    environment_id = models.BigIntegerField(null=True, blank=True)
    environment_name = models.CharField(max_length=255, blank=True)
    environment_type = models.CharField(max_length=30, blank=True)
    deployment_type = models.CharField(max_length=30, blank=True)
    job_type = models.CharField(max_length=30, blank=True)
    schedule_cron = models.CharField(max_length=100, blank=True)
    generate_docs = models.BooleanField(default=False)
    run_generate_sources = models.BooleanField(default=False)
    execute_steps = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=500, blank=True)
    builds = models.ManyToManyField("catalog.Table", blank=True, related_name="dbt_jobs")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        TRIGGERED = "triggered", "Triggered by API or an orchestrator"
        # No trigger and no recent run: read only when the integration names it.
        INACTIVE = "inactive", "Inactive (read because it is chosen)"

    state = models.CharField(max_length=20, choices=State.choices, default=State.SCHEDULED)
    triggers = models.JSONField(default=list, blank=True)
    # No longer read: excluded by the integration's settings, inactive or deleted in dbt
    # Cloud. Its runs stay for the history; its facts are gone.
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "dbt_id"], name="dbtjob_natural_key")
        ]

    def __str__(self) -> str:
        return self.name


class DbtRun(DbtObject):
    """A run of a job. `ingested_at` is set once its artifacts were applied."""

    job = models.ForeignKey(DbtJob, on_delete=models.CASCADE, related_name="runs")
    dbt_id = models.BigIntegerField()
    status_code = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)
    trigger_cause = models.TextField(blank=True)
    git_sha = models.CharField(max_length=64, blank=True)
    git_branch = models.CharField(max_length=255, blank=True)
    dbt_version = models.CharField(max_length=50, blank=True)
    has_docs_generated = models.BooleanField(default=False)
    has_sources_generated = models.BooleanField(default=False)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-finished_at", "-dbt_id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "dbt_id"], name="dbtrun_natural_key")
        ]

    def __str__(self) -> str:
        return f"Run {self.dbt_id} ({self.status})"


class DbtGroup(DbtObject):
    """A dbt group, shown as a user group that owns models."""

    project_id = models.BigIntegerField(null=True, blank=True)
    unique_id = models.CharField(max_length=500)
    name = models.CharField(max_length=255)
    owner_name = models.CharField(max_length=255, blank=True)
    owner_email = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "unique_id"], name="dbtgroup_natural_key"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Fact(DbtObject):
    """A dbt fact that may come from several jobs' runs."""

    job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fact_finished_at = models.DateTimeField(null=True, blank=True)
    project_id = models.BigIntegerField(null=True, blank=True)
    removed = models.BooleanField(default=False)

    class Meta:
        abstract = True


class DbtNode(Fact):
    """A model, seed, snapshot or source, and the warehouse table it was matched to."""

    class Match(models.TextChoices):
        MATCHED = "matched", "Matched"
        UNMATCHED = "unmatched", "Unmatched"
        NO_TABLE = "no_table", "Has no table"

    unique_id = models.CharField(max_length=500)
    resource_type = models.CharField(max_length=20)
    name = models.CharField(max_length=255)
    package_name = models.CharField(max_length=255, blank=True)
    original_file_path = models.CharField(max_length=1000, blank=True)
    database = models.CharField(max_length=255, blank=True)
    schema = models.CharField(max_length=255, blank=True)
    identifier = models.CharField(max_length=255, blank=True)
    relation_name = models.CharField(max_length=1000, blank=True)
    materialized = models.CharField(max_length=50, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    owner = models.CharField(max_length=255, blank=True)
    access = models.CharField(max_length=20, blank=True)
    group = models.ForeignKey(
        DbtGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="nodes"
    )
    contract_enforced = models.BooleanField(default=False)
    constraints = models.JSONField(default=list, blank=True)
    columns = models.JSONField(default=list, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    raw_code = models.TextField(blank=True)
    compiled_code = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    loader = models.CharField(max_length=255, blank=True)
    source_name = models.CharField(max_length=255, blank=True)
    freshness_status = models.CharField(max_length=20, blank=True)
    freshness_max_loaded_at = models.DateTimeField(null=True, blank=True)
    freshness_snapshotted_at = models.DateTimeField(null=True, blank=True)
    freshness_age_seconds = models.FloatField(null=True, blank=True)
    freshness_criteria = models.JSONField(default=dict, blank=True)
    freshness_error = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    execution_status = models.CharField(max_length=20, blank=True)
    execution_time = models.FloatField(null=True, blank=True)
    execution_message = models.TextField(blank=True)
    adapter_response = models.JSONField(default=dict, blank=True)
    catalog_columns = models.JSONField(default=list, blank=True)
    version = models.CharField(max_length=50, blank=True)
    latest_version = models.CharField(max_length=50, blank=True)
    # Where each kind of fact came from; the definition's is `job`, `run`, `fact_finished_at`.
    execution_job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    execution_run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    execution_finished_at = models.DateTimeField(
        null=True, blank=True
    )  # the newest run with a result for it
    compiled_job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    compiled_run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    compiled_finished_at = models.DateTimeField(
        null=True, blank=True
    )  # the newest run that compiled it
    catalog_job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    catalog_run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    catalog_finished_at = models.DateTimeField(
        null=True, blank=True
    )  # the newest run whose catalog.json has it
    freshness_job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    freshness_run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    freshness_finished_at = models.DateTimeField(
        null=True, blank=True
    )  # the newest run whose sources.json has it
    # The match report.
    table = models.ForeignKey(
        "catalog.Table", null=True, blank=True, on_delete=models.SET_NULL, related_name="dbt_nodes"
    )
    match_status = models.CharField(max_length=20, choices=Match.choices, blank=True)
    match_rule = models.CharField(max_length=100, blank=True)
    match_reason = models.TextField(blank=True)
    match_candidate = models.CharField(max_length=1000, blank=True)
    missing_columns = models.JSONField(default=list, blank=True)
    undocumented_columns = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["unique_id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "unique_id"], name="dbtnode_natural_key")
        ]
        indexes = [models.Index(fields=["integration", "match_status"])]

    def __str__(self) -> str:
        return self.unique_id


class DbtTest(Fact):
    """A data test (or a contract constraint), its latest status and what it tests."""

    unique_id = models.CharField(max_length=600)
    name = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    test_type = models.CharField(max_length=20)
    test_name = models.CharField(max_length=255, blank=True)
    attached_node = models.CharField(max_length=500, blank=True)
    node = models.ForeignKey(
        DbtNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="tests"
    )
    table = models.ForeignKey(
        "catalog.Table", null=True, blank=True, on_delete=models.SET_NULL, related_name="dbt_tests"
    )
    column_name = models.CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=10, blank=True)
    tags = models.JSONField(default=list, blank=True)
    compiled_code = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    # A contract constraint the warehouse enforces: its result is its model's build result.
    enforced = models.BooleanField(default=False)
    # The result, from the newest run that executed the test ("" status: never run).
    status = models.CharField(max_length=20, blank=True)
    failures = models.IntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    result_job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    result_finished_at = models.DateTimeField(
        null=True, blank=True
    )  # the newest run that executed it

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "unique_id"], name="dbttest_natural_key")
        ]

    def __str__(self) -> str:
        return self.name


class DbtTestResult(models.Model):
    """One row per run that changed a test's outcome: the test's history."""

    test = models.ForeignKey(DbtTest, on_delete=models.CASCADE, related_name="history")
    job = models.ForeignKey(
        DbtJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, blank=True)
    failures = models.IntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-executed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.test_id}: {self.status}"


class DbtJobFact(models.Model):
    """What the newest run of one live job that carried a kind of fact said about one node
    or test. The catalog shows, per kind, the newest of these across jobs."""

    class Kind(models.TextChoices):
        EXECUTION = "execution", "Build result"
        COMPILED = "compiled", "Compiled code"
        CATALOG = "catalog", "Catalog columns"
        FRESHNESS = "freshness", "Freshness"
        TEST = "test", "Test result"

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="+"
    )
    job = models.ForeignKey(DbtJob, on_delete=models.CASCADE, related_name="facts")
    run = models.ForeignKey(
        DbtRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unique_id = models.CharField(max_length=600)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    finished_at = models.DateTimeField(null=True, blank=True)  # the run's
    executed_at = models.DateTimeField(null=True, blank=True)  # the node's or test's, if known
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "kind", "unique_id"], name="dbtjobfact_natural_key"
            )
        ]
        indexes = [models.Index(fields=["integration", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} of {self.unique_id} by job {self.job_id}"


class DbtExposure(DbtObject):
    """A dashboard, notebook, application... that depends on tables."""

    project_id = models.BigIntegerField(null=True, blank=True)
    unique_id = models.CharField(max_length=500)
    name = models.CharField(max_length=255)
    label = models.CharField(max_length=255, blank=True)
    exposure_type = models.CharField(max_length=30, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    owner_name = models.CharField(max_length=255, blank=True)
    owner_email = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    maturity = models.CharField(max_length=20, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    tables = models.ManyToManyField("catalog.Table", blank=True, related_name="dbt_exposures")
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "unique_id"], name="dbtexposure_natural_key"
            )
        ]

    def __str__(self) -> str:
        return self.label or self.name


class DbtTerm(DbtObject):
    """A dictionary (glossary) term from a dbt metric or semantic model."""

    project_id = models.BigIntegerField(null=True, blank=True)
    unique_id = models.CharField(max_length=500)
    kind = models.CharField(max_length=20)
    name = models.CharField(max_length=255)
    label = models.CharField(max_length=255, blank=True)
    term_type = models.CharField(max_length=30, blank=True)
    description = models.TextField(blank=True)
    group = models.ForeignKey(
        DbtGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="terms"
    )
    owner = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    dimensions = models.JSONField(default=list, blank=True)
    time_grains = models.JSONField(default=list, blank=True)
    measures = models.JSONField(default=list, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    tables = models.ManyToManyField("catalog.Table", blank=True, related_name="dbt_terms")
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "unique_id"], name="dbtterm_natural_key")
        ]

    def __str__(self) -> str:
        return self.label or self.name


class TableLineage(models.Model):
    """upstream → downstream, as dbt's `depends_on` says (ephemeral models looked through)."""

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="+"
    )
    upstream = models.ForeignKey(
        "catalog.Table", on_delete=models.CASCADE, related_name="downstream_edges"
    )
    downstream = models.ForeignKey(
        "catalog.Table", on_delete=models.CASCADE, related_name="upstream_edges"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "upstream", "downstream"], name="tablelineage_natural_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.upstream_id} → {self.downstream_id}"
