from trafilatura.utils import load_html

from tasks.furniture import prune_furniture
from tests.tasks.test_extract import STORY, article_page

MENU = "<nav><ul>" + "".join(f"<li><a href='/r{i}'>Ressort {i}</a></li>" for i in range(8)) + "</ul></nav>"


def test_a_wrapper_holding_most_of_the_running_text_is_the_story_whatever_its_class():
    body = (
        f"{MENU}<div class='share-layout'><h2>Fähre fällt aus</h2><p>{STORY}</p><p>{STORY}</p>"
        "<div class='share'><a href='/teilen'>Teilen</a></div></div>"
    )
    pruned = prune_furniture(load_html(article_page("", body).decode()))
    text = " ".join(pruned.itertext())
    assert "Satz 11 über den Hafen" in text  # the wrapper stays: it is the story
    assert "Teilen" not in text  # the share box inside it still goes
