# meta_agent.py: LLM decides which tasks to create
from openai import OpenAI
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator, Task
import json

# Define available task types with descriptions for the LLM
TASK_TYPES = {
    "research": "Search and gather information on a topic. Input: {query: string}",
    "summarize": "Create a concise summary of content. Input: {content: string}",
    "analyze": "Perform data analysis. Input: {data: object, question: string}",
}

SYSTEM_PROMPT = f"""You are a task planner. Given a user request, decide which tasks to create.

Available task types:
{json.dumps(TASK_TYPES, indent=2)}

Respond with JSON: {{"tasks": [{{"type": "<type>", ...input_fields}}]}}

Examples:
- "What's happening with AI?" -> {{"tasks": [{{"type": "research", "query": "recent AI developments"}}]}}
- "Explain this data" -> {{"tasks": [{{"type": "analyze", "data": ..., "question": "..."}}]}}
"""

openai_client = OpenAI()
client = BoltClient(host="localhost", port=8518, username="admin", password="secret")
client.connect()
coord = TaskCoordinator(client)

def process_user_request(user_input: str) -> list[Task]:
    response = openai_client.chat.completions.create(
        model="gpt-4",
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_input}
        ],
        response_format={"type": "json_object"}
    )

    plan = json.loads(response.choices[0].message.content)
    tasks = []
    for item in plan["tasks"]:
        if item["type"] in TASK_TYPES:  # Validate task type
            task = coord.create_task(item["type"], item)
            tasks.append(task)
    return tasks

# Usage: tasks = process_user_request("I need to understand the impact of AI on healthcare")
# LLM will create: [Task(type="research", query="impact of AI on healthcare")]
