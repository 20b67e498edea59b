{#-
    Fail the calling model at compile time, with a message that says what to do, when the
    database has no active model or the scoring functions are not registered on this
    connection (the scoring.plugin is missing from profiles.yml). Upstream models are not
    affected.
-#}
{% macro require_active_model() %}
    {%- if execute -%}
        {%- set registry_exists -%}
            select count(*)
            from information_schema.tables
            where table_catalog = current_database()
                and table_schema = 'main'
                and table_name = 'model_registry'
        {%- endset -%}
        {%- if run_query(registry_exists).columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "no model registry (main.model_registry) yet: run `churnwatch train` first"
            ) }}
        {%- endif -%}
        {%- set active -%}
            select count(*) from main.model_registry where status = 'active'
        {%- endset -%}
        {%- if run_query(active).columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "no active model in main.model_registry: run `churnwatch train` first"
            ) }}
        {%- endif -%}
        {%- set functions -%}
            select count(*) from duckdb_functions()
            where function_name = 'churn_score_and_reasons'
        {%- endset -%}
        {%- if run_query(functions).columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "churn_score_and_reasons is not registered on this connection: add "
                ~ "`plugins: [{module: scoring.plugin}]` to the profile in profiles.yml"
            ) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
