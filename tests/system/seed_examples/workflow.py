# workflow.py: Static pipeline where tasks chain together
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

client = BoltClient(host="localhost", port=8518, username="admin", password="secret")
client.connect()
coord = TaskCoordinator(client)

def run_pipeline(query: str):
    """Pipeline: research -> summarize (output of one feeds into next)."""
    # Step 1: Research
    research_task = coord.create_task("research", {"query": query})
    research_task = coord.wait_for_task(research_task.id)

    if research_task.status == "failed":
        raise Exception(f"Research failed: {research_task.result}")

    # Step 2: Summarize (uses output from step 1)
    summarize_task = coord.create_task("summarize", {
        "content": research_task.result["findings"]
    })
    summarize_task = coord.wait_for_task(summarize_task.id)

    return summarize_task.result

# Usage: result = run_pipeline("impact of AI on healthcare")
