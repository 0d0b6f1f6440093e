"""dbt facts by kind, each with the job and run that produced it, and each live job's own
facts (DbtJobFact).

Facts stored before this came whole from the newest run of any job, so they cannot be
told apart: every dbt Cloud integration forgets which runs it ingested, and its next sync
reads each job's newest run again (one run per job, as a first sync does).
"""

import django.db.models.deletion
from django.db import migrations, models


def read_newest_runs_again(apps, schema_editor) -> None:
    Integration = apps.get_model("integrations", "Integration")
    Integration.objects.filter(connector="dbt_cloud").update(sync_state={})


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0009_warehouse_values'),
        ('integrations', '0006_sync_run_owner_and_sends'),
    ]

    operations = [
        migrations.AddField(
            model_name='dbtjob',
            name='removed',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='dbtjob',
            name='state',
            field=models.CharField(choices=[('scheduled', 'Scheduled'), ('triggered', 'Triggered by API or an orchestrator')], default='scheduled', max_length=20),
        ),
        migrations.AddField(
            model_name='dbtjob',
            name='triggers',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='adapter_response',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='catalog_finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='catalog_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtjob'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='catalog_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='compiled_finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='compiled_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtjob'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='compiled_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='execution_finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='execution_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtjob'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='execution_message',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='execution_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='execution_time',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='freshness_finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='freshness_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtjob'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='freshness_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun'),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='latest_version',
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AddField(
            model_name='dbtnode',
            name='version',
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AddField(
            model_name='dbttest',
            name='result_finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dbttest',
            name='result_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtjob'),
        ),
        migrations.AddField(
            model_name='dbttest',
            name='result_run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun'),
        ),
        migrations.CreateModel(
            name='DbtJobFact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('unique_id', models.CharField(max_length=600)),
                ('kind', models.CharField(choices=[('execution', 'Build result'), ('compiled', 'Compiled code'), ('catalog', 'Catalog columns'), ('freshness', 'Freshness'), ('test', 'Test result')], max_length=20)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('executed_at', models.DateTimeField(blank=True, null=True)),
                ('values', models.JSONField(blank=True, default=dict)),
                ('integration', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='integrations.integration')),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='facts', to='catalog.dbtjob')),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.dbtrun')),
            ],
            options={
                'indexes': [models.Index(fields=['integration', 'kind'], name='catalog_dbt_integra_5010ed_idx')],
                'constraints': [models.UniqueConstraint(fields=('job', 'kind', 'unique_id'), name='dbtjobfact_natural_key')],
            },
        ),
        migrations.RunPython(read_newest_runs_again, migrations.RunPython.noop),
    ]
