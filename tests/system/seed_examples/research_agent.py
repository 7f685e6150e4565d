# research_agent.py
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator, Task

client = BoltClient(host="localhost", port=8518, username="admin", password="secret")
client.connect()
coord = TaskCoordinator(client)

# Called when a research task is available
def handle_research(task: Task):
    print(f"Researching: {task.data['query']}")

    # ... Implementation here
    result = {"findings": f"Research findings for: {task.data['query']}", "sources": ["..."]}

    coord.complete_task(task.id, result)

# Subscribe and wait for tasks
coord.subscribe("research", agent_id="research_agent_01", callback=handle_research)
